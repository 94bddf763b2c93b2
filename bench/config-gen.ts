// Gateway API configurations for the scenarios, generated (never checked in):
// one plain route, or N routes of mixed kinds where the request under test can
// only be answered by the last-declared route.
import { stringify } from 'yaml';
import { UPSTREAM_HEADER, upstreamBody } from './upstream.ts';
import type { BenchIssuer } from './jwt.ts';

/** What a load generator sends, and what a correct answer looks like. */
export interface Probe {
  path: string;
  /** Request headers, lowercase names; `host` when the route needs one. */
  headers: Record<string, string>;
  expect: {
    upstream: string;
    body: string;
    /** Response headers the route must have set. */
    headers: Record<string, string>;
  };
  /** Send each request with the next of these values of one header (a client population's tokens). */
  rotate?: HeaderRotation;
}

export interface HeaderRotation {
  /** Lowercase name. */
  header: string;
  values: string[];
}

export interface GeneratedConfig {
  yaml: string;
  probe: Probe;
  routes: number;
}

export interface Upstreams {
  /** The upstream only the route under test points at. */
  target: number;
  /** The upstream every other route points at. */
  other: number;
}

const NS = 'default';
export const TARGET_BACKEND = 'bench-target';
export const OTHER_BACKEND = 'bench-other';
export const GENERATION_HEADER = 'x-bench-generation';
/** Set by the route under test: proves that route (not just its backend) answered. */
export const ROUTE_HEADER = 'x-bench-route';

function gateway(port: number): object {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'Gateway',
    metadata: { name: 'bench', namespace: NS },
    spec: { gatewayClassName: 'portcullis', listeners: [{ name: 'http', protocol: 'HTTP', port }] },
  };
}

function backend(name: string, port: number): object {
  return {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'Backend',
    metadata: { name, namespace: NS },
    spec: { endpoints: [{ ip: { address: '127.0.0.1', port } }] },
  };
}

function backendRef(name: string): object {
  return { group: 'gateway.envoyproxy.io', kind: 'Backend', name };
}

function httpRoute(name: string, hostnames: string[] | undefined, rule: object): object {
  return {
    apiVersion: 'gateway.networking.k8s.io/v1',
    kind: 'HTTPRoute',
    metadata: { name, namespace: NS },
    spec: { parentRefs: [{ name: 'bench' }], ...(hostnames ? { hostnames } : {}), rules: [rule] },
  };
}

function toYaml(docs: object[]): string {
  return docs.map((d) => stringify(d)).join('---\n');
}

/** One route, no hostname, no filters: the gateway's cheapest path. */
export function plainConfig(gatewayPort: number, upstreams: Upstreams): GeneratedConfig {
  const docs = [
    gateway(gatewayPort),
    backend(TARGET_BACKEND, upstreams.target),
    httpRoute('plain', undefined, { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [backendRef(TARGET_BACKEND)] }),
  ];
  return {
    yaml: toYaml(docs),
    routes: 1,
    probe: { path: '/', headers: {}, expect: { upstream: 'target', body: upstreamBody('target'), headers: {} } },
  };
}

function gatewayTarget(): object {
  return { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'bench' };
}

/**
 * The plain route behind Istio security on its Gateway: a RequestAuthentication
 * (RS256, inline JWKS) and an ALLOW that requires a request principal, so a
 * request only reaches the upstream with a token that verifies. The probe
 * sends one valid token; `unauthenticated` is what a request without it gets.
 */
export function istioConfig(gatewayPort: number, upstreams: Upstreams, jwt: BenchIssuer): GeneratedConfig & { unauthenticatedStatus: number } {
  const plain = plainConfig(gatewayPort, upstreams);
  const docs = [
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'RequestAuthentication',
      metadata: { name: 'bench-jwt', namespace: NS },
      spec: { targetRefs: [gatewayTarget()], jwtRules: [{ issuer: jwt.issuer, audiences: ['bench'], jwks: jwt.jwks }] },
    },
    {
      apiVersion: 'security.istio.io/v1',
      kind: 'AuthorizationPolicy',
      metadata: { name: 'bench-require-jwt', namespace: NS },
      spec: { targetRefs: [gatewayTarget()], action: 'ALLOW', rules: [{ from: [{ source: { requestPrincipals: [`${jwt.issuer}/bench`] } }] }] },
    },
  ];
  return {
    yaml: plain.yaml + '---\n' + toYaml(docs),
    routes: 1,
    probe: { ...plain.probe, headers: { authorization: `Bearer ${jwt.token}` } },
    unauthenticatedStatus: 403,
  };
}

// Ten hostnames, two of them wildcards; routes are spread over them.
const HOSTS = ['h0', 'h1', 'h2', 'h3', 'h4', 'h5', 'h6', 'h7', '*.w8', '*.w9'].map((h) => `${h}.bench.test`);
/** The hostname of the route under test, and of the catch-all that must lose to it. */
const PROBE_HOST = HOSTS[0];

/** A rule of one of five kinds, so the router meets every kind of match. */
function decoyRule(i: number): object {
  const ref = { backendRefs: [backendRef(OTHER_BACKEND)] };
  switch (i % 5) {
    case 0:
      return { matches: [{ path: { type: 'PathPrefix', value: `/api/r${i}` } }], ...ref };
    case 1:
      return { matches: [{ path: { type: 'Exact', value: `/api/r${i}/items` } }], ...ref };
    case 2:
      return { matches: [{ path: { type: 'RegularExpression', value: `/api/r${i}/v[0-9]+/.*` } }], ...ref };
    case 3:
      return { matches: [{ path: { type: 'PathPrefix', value: `/api/r${i}` }, headers: [{ name: 'x-tenant', value: `t${i}` }] }], ...ref };
    default:
      return {
        matches: [{ path: { type: 'PathPrefix', value: `/api/r${i}` }, headers: [{ type: 'RegularExpression', name: 'x-tenant', value: `t${i}(-[a-z]+)?` }] }],
        ...ref,
      };
  }
}

/**
 * `routes` HTTPRoutes (one rule each). The request under test matches two of
 * them: a catch-all `/` declared first (pointing at the other upstream) and the
 * last-declared route (prefix + header match, on the target upstream, setting
 * a response header). Gateway API precedence (longest prefix) must pick the
 * last one; a router that takes the first match in declaration order fails the
 * correctness check. `generation` changes the IR without changing the routing
 * (the reload scenario bumps it).
 */
export function manyRoutesConfig(gatewayPort: number, upstreams: Upstreams, routes: number, generation = 0): GeneratedConfig {
  if (routes < 2) throw new Error('manyRoutesConfig needs at least 2 routes');
  const last = routes - 1;
  const width = String(last).length;
  const name = (i: number): string => `route-${String(i).padStart(width, '0')}`;
  const docs: object[] = [gateway(gatewayPort), backend(TARGET_BACKEND, upstreams.target), backend(OTHER_BACKEND, upstreams.other)];
  docs.push(httpRoute(name(0), [PROBE_HOST], { matches: [{ path: { type: 'PathPrefix', value: '/' } }], backendRefs: [backendRef(OTHER_BACKEND)] }));
  for (let i = 1; i < last; i++) docs.push(httpRoute(name(i), [HOSTS[i % HOSTS.length]], decoyRule(i)));
  const setHeaders = [
    { name: ROUTE_HEADER, value: name(last) },
    { name: GENERATION_HEADER, value: String(generation) },
  ];
  docs.push(
    httpRoute(name(last), [PROBE_HOST], {
      matches: [{ path: { type: 'PathPrefix', value: `/api/r${last}` }, headers: [{ name: 'x-tenant', value: `t${last}` }] }],
      filters: [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: setHeaders } }],
      backendRefs: [backendRef(TARGET_BACKEND)],
    }),
  );
  return {
    yaml: toYaml(docs),
    routes,
    probe: {
      path: `/api/r${last}/items`,
      headers: { host: PROBE_HOST, 'x-tenant': `t${last}` },
      expect: {
        upstream: 'target',
        body: upstreamBody('target'),
        headers: { [ROUTE_HEADER]: name(last), [GENERATION_HEADER]: String(generation), [UPSTREAM_HEADER]: 'target' },
      },
    },
  };
}

/** The regex route's path and header patterns (RE2, whole-value matches). */
export const REGEX_PATH = '/re/[a-z]+/v[0-9]+/items(/[a-z0-9-]+)*';
export const REGEX_HEADER = 't[0-9]+(-[a-z]+)?';

/**
 * A regex route (path and header RegularExpression matches) next to a plain
 * PathPrefix route on one gateway: the two probes differ only in which one
 * answers, so their ratio is the cost of evaluating the regexes (RE2).
 */
export function regexConfig(gatewayPort: number, upstreams: Upstreams): { yaml: string; regex: Probe; plain: Probe } {
  const routeHeader = (value: string) => [{ type: 'ResponseHeaderModifier', responseHeaderModifier: { set: [{ name: ROUTE_HEADER, value }] } }];
  const docs = [
    gateway(gatewayPort),
    backend(TARGET_BACKEND, upstreams.target),
    httpRoute('regex', undefined, {
      matches: [{ path: { type: 'RegularExpression', value: REGEX_PATH }, headers: [{ type: 'RegularExpression', name: 'x-tenant', value: REGEX_HEADER }] }],
      filters: routeHeader('regex'),
      backendRefs: [backendRef(TARGET_BACKEND)],
    }),
    httpRoute('plain', undefined, {
      matches: [{ path: { type: 'PathPrefix', value: '/plain' } }],
      filters: routeHeader('plain'),
      backendRefs: [backendRef(TARGET_BACKEND)],
    }),
  ];
  const probe = (path: string, headers: Record<string, string>, route: string): Probe => ({
    path,
    headers,
    expect: { upstream: 'target', body: upstreamBody('target'), headers: { [ROUTE_HEADER]: route, [UPSTREAM_HEADER]: 'target' } },
  });
  return {
    yaml: toYaml(docs),
    regex: probe('/re/orders/v2/items/abc-123', { 'x-tenant': 't42-eu' }, 'regex'),
    plain: probe('/plain/orders/v2/items/abc-123', { 'x-tenant': 't42-eu' }, 'plain'),
  };
}
