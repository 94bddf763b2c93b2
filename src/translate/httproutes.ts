// HTTPRoutes and GRPCRoutes → route rules on the sockets of the listeners they attach to.
import type { ConditionReason, ParentReference, StatusCondition } from '../ir/types.ts';
import type { IRAction, IRFilter, IRHeaderModifier, IRMatch, IRMirror, IRRoute, IRUrlRewrite, IRWeightedBackend, IRBackend } from '../ir/types.ts';
import type { LoadedResource } from '../resources/types.ts';
import type { HTTPHeaderFilter, HTTPPathModifier, HTTPRouteRule, HTTPRouteSpec } from '../resources/kinds/gatewayapi-httproute.ts';
import type { GRPCRouteSpec } from '../resources/kinds/gatewayapi-grpcroute.ts';
import type { RouteKind } from './attachment/targets.ts';
import { grpcRuleAsHttp } from './grpcroutes.ts';
import { namespaceOf } from '../resources/types.ts';
import type { ResourceIndex } from './index-resources.ts';
import { ageKey } from './attachment/precedence.ts';
import { resolveBackendRef } from './backends.ts';
import { intersectHostnames } from './hostnames.ts';
import { parseDuration } from './durations.ts';
import { matchesSelector } from './selectors.ts';
import { sortFilters } from '../ir/filter-order.ts';
import { retryPolicy } from './backend-traffic-policy.ts';
import type { IRRetry, IRRouteTraffic } from '../ir/traffic.ts';
import { sessionPersistence } from './session-persistence.ts';
import type { AttachableSection } from './gateways.ts';
import type { StatusCollector } from './status.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** Envoy's default route timeout: an upstream that never answers gets 504 after it. */
const DEFAULT_BACKEND_TIMEOUT_MS = 15_000;

type ParentRef = NonNullable<HTTPRouteSpec['parentRefs']>[number];
type HeaderModifierSpec = HTTPHeaderFilter;
type PathModifier = HTTPPathModifier;

const ROUTE_KINDS: readonly RouteKind[] = ['HTTPRoute', 'GRPCRoute'];

/** A route's spec in HTTPRoute form (GRPCRoute rules become the path matches they are, grpcroutes.ts). */
function specOf(kind: RouteKind, route: LoadedResource): HTTPRouteSpec {
  if (kind === 'HTTPRoute') return (route.resource.spec ?? {}) as HTTPRouteSpec;
  const g = (route.resource.spec ?? {}) as GRPCRouteSpec;
  return { parentRefs: g.parentRefs, hostnames: g.hostnames, rules: g.rules?.map(grpcRuleAsHttp) };
}

/**
 * HTTPRoutes and GRPCRoutes onto the listeners' route tables, without any policy: policy
 * families attach their filters afterwards (translate/attachment). Returns the
 * resource behind each backend id, for families that select destination hops.
 */
export function translateRoutes(
  idx: ResourceIndex,
  sections: AttachableSection[],
  backends: Record<string, IRBackend>,
  status: StatusCollector,
): Map<string, LoadedResource> {
  const backendResources = new Map<string, LoadedResource>();
  for (const kind of ROUTE_KINDS) for (const route of idx.list(kind)) {
    const ns = namespaceOf(route.resource);
    const key = `${kind}/${ns}/${route.resource.metadata.name}`;
    const spec = specOf(kind, route);
    // Gateway API: status per parentRef, so a route accepted by one Gateway and refused by another says both.
    for (const parent of spec.parentRefs ?? []) {
      const parentRef: ParentReference = { kind: 'Gateway', namespace: parent.namespace ?? ns, name: parent.name };
      if (parent.sectionName !== undefined) parentRef.sectionName = parent.sectionName;
      const onParent: ParentConditions = (c) => status.parentCondition(key, 'parents', parentRef, c);
      const targets = parentSections(idx, kind, route, parent, sections);
      if ('reason' in targets) {
        onParent({ type: 'Accepted', status: 'False', reason: targets.reason, message: targets.message });
        continue;
      }
      let attached = 0;
      let refusal: StatusCondition | undefined;
      for (const section of targets) {
        const hostnames = intersectHostnames(section.spec.hostname, spec.hostnames ?? []);
        if (hostnames === null) {
          refusal ??= { type: 'Accepted', status: 'False', reason: 'NoMatchingListenerHostname', message: `no hostname of the route matches listener ${section.spec.name} (${section.spec.hostname})` };
          continue;
        }
        (spec.rules ?? [{}]).forEach((rule, ruleIndex) => {
          section.listener.routes.push(translateRule(idx, kind, route, rule, ruleIndex, section, hostnames, backends, backendResources, status, onParent));
        });
        section.attachedRoutes++;
        attached++;
      }
      if (attached === 0) {
        onParent(refusal ?? { type: 'Accepted', status: 'False', reason: 'NoMatchingParent', message: 'no listener accepts the route' });
        continue;
      }
      // A False set while translating the rules (a rule that cannot be programmed) is kept: the first False wins.
      onParent({ type: 'Accepted', status: 'True', reason: 'Accepted', message: `attached to ${attached} listener(s)` });
      onParent({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'all references resolved' });
    }
  }
  return backendResources;
}

type Refusal = { reason: ConditionReason; message: string };
/** Writes one condition on the parentRef being translated. */
type ParentConditions = (c: StatusCondition) => void;

/** The listener sections a parentRef selects, or why none. */
function parentSections(idx: ResourceIndex, kind: RouteKind, route: LoadedResource, parent: ParentRef, sections: AttachableSection[]): AttachableSection[] | Refusal {
  if ((parent.group ?? GATEWAY_GROUP) !== GATEWAY_GROUP || (parent.kind ?? 'Gateway') !== 'Gateway') {
    return { reason: 'InvalidKind', message: `parent kind ${parent.kind} is not supported (Gateway)` };
  }
  const routeNs = namespaceOf(route.resource);
  const gwNs = parent.namespace ?? routeNs;
  const candidates = sections.filter(
    (s) => s.gatewayRef.namespace === gwNs && s.gatewayRef.name === parent.name &&
      (parent.sectionName === undefined || s.spec.name === parent.sectionName) &&
      (parent.port === undefined || s.spec.port === parent.port),
  );
  if (candidates.length === 0) return { reason: 'NoMatchingParent', message: `no listener of Gateway ${gwNs}/${parent.name} matches (sectionName ${parent.sectionName ?? '-'}, port ${parent.port ?? '-'})` };
  const allowed = candidates.filter((s) => routeAllowed(idx, s, routeNs, kind));
  if (allowed.length === 0) return { reason: 'NotAllowedByListeners', message: `listeners of Gateway ${gwNs}/${parent.name} do not allow routes from namespace ${routeNs}` };
  return allowed;
}

function routeAllowed(idx: ResourceIndex, s: AttachableSection, routeNs: string, kind: RouteKind): boolean {
  const ar = s.spec.allowedRoutes;
  const kinds = ar?.kinds;
  // Without kinds, an HTTP/HTTPS listener takes both HTTPRoute and GRPCRoute (Gateway API's listener defaults).
  if (kinds && kinds.length > 0 && !kinds.some((k) => (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP && k.kind === kind)) return false;
  const from = ar?.namespaces?.from ?? 'Same';
  if (from === 'All') return true;
  if (from === 'Same') return routeNs === s.gatewayRef.namespace;
  return matchesSelector(ar?.namespaces?.selector ?? {}, idx.namespaceLabels(routeNs));
}

function translateRule(
  idx: ResourceIndex,
  kind: RouteKind,
  route: LoadedResource,
  rule: HTTPRouteRule,
  ruleIndex: number,
  section: AttachableSection,
  hostnames: string[],
  backends: Record<string, IRBackend>,
  backendResources: Map<string, LoadedResource>,
  status: StatusCollector,
  onParent: ParentConditions,
): IRRoute {
  const ns = namespaceOf(route.resource);
  const name = route.resource.metadata.name;
  const key = `${kind}/${ns}/${name}`;
  // gRPC goes to its backends over HTTP/2 (h2c without TLS).
  const from = { kind, namespace: ns, group: GATEWAY_GROUP, http2: kind === 'GRPCRoute' };
  const problems: string[] = [];
  const filters: IRFilter[] = [];
  let redirect: IRAction | undefined;
  let rewrite: IRUrlRewrite | undefined;
  const mirrors: IRMirror[] = [];
  const matches: IRMatch[] = (rule.matches && rule.matches.length > 0 ? rule.matches : [{}]).map((m) => ({
    path: { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' },
    method: m.method,
    headers: (m.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), type: h.type ?? 'Exact', value: h.value })),
    query: (m.queryParams ?? []).map((q) => ({ name: q.name, type: q.type ?? 'Exact', value: q.value })),
  }));
  const hasPrefixMatch = matches.every((m) => m.path.type === 'PathPrefix');

  for (const f of rule.filters ?? []) {
    switch (f.type) {
      case 'RequestHeaderModifier':
        filters.push({ type: 'requestHeaderModifier', origin: key, config: headerModifier(f.requestHeaderModifier) });
        break;
      case 'ResponseHeaderModifier':
        filters.push({ type: 'responseHeaderModifier', origin: key, config: headerModifier(f.responseHeaderModifier) });
        break;
      case 'RequestRedirect': {
        const r = f.requestRedirect ?? {};
        const path = pathModifier(r.path);
        if (path?.type === 'ReplacePrefixMatch' && !hasPrefixMatch) problems.push('RequestRedirect ReplacePrefixMatch needs PathPrefix matches');
        redirect = { type: 'redirect', scheme: r.scheme, hostname: r.hostname, port: r.port, path, statusCode: r.statusCode ?? 302 };
        break;
      }
      case 'URLRewrite': {
        const path = pathModifier(f.urlRewrite?.path);
        if (path?.type === 'ReplacePrefixMatch' && !hasPrefixMatch) problems.push('URLRewrite ReplacePrefixMatch needs PathPrefix matches');
        rewrite = { hostname: f.urlRewrite?.hostname, path };
        break;
      }
      case 'RequestMirror': {
        const m = f.requestMirror!;
        const res = resolveBackendRef(idx, from, m.backendRef);
        if (res.ok) backends[res.backend.id] = res.backend;
        else problems.push(`mirror: ${res.message}`);
        const percent = m.percent ?? (m.fraction ? (100 * m.fraction.numerator) / (m.fraction.denominator ?? 100) : 100);
        mirrors.push({ backend: res.ok ? res.backend.id : null, percent });
        break;
      }
      default:
        problems.push(`filter type ${f.type} is not supported`);
    }
  }
  if (redirect && rewrite) problems.push('RequestRedirect and URLRewrite cannot be used together');

  const weighted: IRWeightedBackend[] = [];
  for (const ref of rule.backendRefs ?? []) {
    const res = resolveBackendRef(idx, from, ref);
    const wb: IRWeightedBackend = { backend: null, weight: ref.weight ?? 1, filters: [] };
    if (res.ok) {
      backends[res.backend.id] = res.backend;
      wb.backend = res.backend.id;
      backendResources.set(res.backend.id, res.resource);
    } else {
      onParent({ type: 'ResolvedRefs', status: 'False', reason: res.reason, message: res.message });
    }
    for (const bf of ref.filters ?? []) {
      if (bf.type === 'RequestHeaderModifier') wb.requestHeaders = headerModifier(bf.requestHeaderModifier);
      else if (bf.type === 'ResponseHeaderModifier') wb.responseHeaders = headerModifier(bf.responseHeaderModifier);
      else problems.push(`backendRef filter type ${bf.type} is not supported`);
    }
    weighted.push(wb);
  }

  const timeouts = { requestMs: 0, backendRequestMs: DEFAULT_BACKEND_TIMEOUT_MS };
  if (rule.timeouts?.request !== undefined) timeouts.requestMs = parseDuration(rule.timeouts.request) ?? 0;
  if (rule.timeouts?.backendRequest !== undefined) timeouts.backendRequestMs = parseDuration(rule.timeouts.backendRequest) ?? DEFAULT_BACKEND_TIMEOUT_MS;
  // The whole-request budget also bounds each attempt (0 = no limit).
  if (timeouts.requestMs > 0 && (timeouts.backendRequestMs === 0 || timeouts.backendRequestMs > timeouts.requestMs)) timeouts.backendRequestMs = timeouts.requestMs;

  let action: IRAction;
  if (problems.length > 0) {
    // Gateway API: a rule that cannot be programmed answers 500, never something looser.
    onParent({ type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: `rules[${ruleIndex}]: ${problems.join('; ')}` });
    action = { type: 'direct', status: 500, body: 'route misconfigured\n' };
  } else if (redirect) action = redirect;
  else action = { type: 'proxy', backends: weighted, rewrite, mirrors };

  return {
    id: `${key}/rule/${ruleIndex}@${section.gatewayRef.namespace}/${section.gatewayRef.name}/${section.spec.name}`,
    label: rule.name ? `${ns}/${name}/${rule.name}` : `${ns}/${name}/${ruleIndex}`,
    route: { kind, namespace: ns, name, rule: ruleIndex, ruleName: rule.name },
    section: { gateway: section.gatewayRef, name: section.spec.name },
    hostnames,
    matches,
    order: { created: ageKey(route), key: `${ns}/${name}`, rule: ruleIndex },
    filters: sortFilters(filters),
    action,
    timeouts,
    ...(rule.retry || rule.sessionPersistence ? { traffic: routeTraffic(rule, matches) } : {}),
  };
}

/** The rule's own traffic settings (retry, sessionPersistence); a BackendTrafficPolicy adds its own to them. */
function routeTraffic(rule: HTTPRouteRule, matches: IRMatch[]): IRRouteTraffic {
  const t: IRRouteTraffic = {};
  if (rule.retry) t.retry = routeRetry(rule.retry);
  if (rule.sessionPersistence) {
    const path = matches.find((m) => m.path.type === 'PathPrefix' || m.path.type === 'Exact')?.path.value;
    t.sessionPersistence = sessionPersistence(rule.sessionPersistence, path);
  }
  return t;
}

function headerModifier(spec: HeaderModifierSpec | undefined): IRHeaderModifier {
  return {
    set: (spec?.set ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
    add: (spec?.add ?? []).map((h) => ({ name: h.name.toLowerCase(), value: h.value })),
    remove: (spec?.remove ?? []).map((h) => h.toLowerCase()),
  };
}

function pathModifier(p: PathModifier | undefined): IRUrlRewrite['path'] {
  if (!p) return undefined;
  if (p.type === 'ReplaceFullPath') return { type: 'ReplaceFullPath', value: p.replaceFullPath ?? '/' };
  return { type: 'ReplacePrefixMatch', value: p.replacePrefixMatch ?? '/' };
}

/**
 * Gateway API's HTTPRouteRetry (GEP-1731): `codes` retried (Envoy Gateway's
 * defaults without them), `attempts` retries, `backoff` the base interval.
 */
function routeRetry(r: { codes?: number[]; attempts?: number; backoff?: string }): IRRetry {
  return retryPolicy({
    numRetries: r.attempts,
    retryOn: r.codes ? { triggers: ['connect-failure', 'retriable-status-codes'], httpStatusCodes: r.codes } : undefined,
    perRetry: r.backoff ? { backOff: { baseInterval: r.backoff } } : undefined,
  });
}
