// IR snapshot → handlers, once per snapshot: routers, filter chains, clusters.
// Nothing here runs per request.
import type { SecureContext } from 'node:tls';
import { createSecureContext } from 'node:tls';
import type { IRCertificate, IRTlsParams, IRFilter, IRHeaderModifier, IRListener, IRRoute, IRRedirectAction, IRDirectResponseAction, IRUrlRewrite, Snapshot } from '../ir/types.ts';
import type { BodyNeed, CompiledFilter, RequestHandler, ResponseHandler } from '../filters/types.ts';
import type { Reply } from '../core/decision.ts';
import type { RequestContext } from '../core/request.ts';
import { filterModule, loadFilterModules } from '../filters/registry.ts';
import { ReplyOverrides } from '../core/replies.ts';
import { Router, type CompiledRoute } from './router.ts';
import { compileClientIp, type ClientIpResolver } from './client-ip.ts';
import { compilePeerCheck, type CompiledPeerCheck } from './peer-check.ts';
import { resumptionOptions } from './tls-resumption.ts';
import { Cluster } from '../upstream/cluster.ts';
import { Balancer } from '../upstream/balancer.ts';
import type { PoolRegistry } from '../upstream/pools.ts';
import { composeUpstream, decoratorsFor, dispatchToReplica, type UpstreamDispatch } from '../upstream/decorators.ts';

export interface Chain {
  /** Request handlers in chain order, with the filter that owns each (for the trace). */
  request: { type: string; origin: string; fn: RequestHandler }[];
  response: ResponseHandler[];
  /** Read the body before this chain runs (the widest need of its filters); absent: it streams. */
  body?: BodyNeed;
  /** A filter that may have the route chosen again (recomputeRoute): see recompute-route.ts. */
  reroute?: Reroute;
}

export interface Reroute {
  /** Index of that filter in `request`: the chain runs up to it, then the route may change. */
  at: number;
  /** Whether this request's route is chosen again (the filter's recomputeRoute). */
  when: (ctx: RequestContext) => boolean;
  /** The listener's router, to match again with the headers the filters set. */
  router: Router<DataRoute> | undefined;
}

export interface CompiledBackend {
  cluster: Cluster | null;
  /** Picks the replica (loadBalancer, health, session persistence); null with the cluster. */
  balancer: Balancer | null;
  weight: number;
  chain: Chain;
  /** [route chain, this backend's chain]: the response hooks of both hops, built once. */
  chains: readonly Chain[];
  requestHeaders?: IRHeaderModifier;
  responseHeaders?: IRHeaderModifier;
  /** The backend's upstream decorators (retries, breakers...) in front of the replica's pool. */
  dispatch: UpstreamDispatch;
  /** Request body bytes kept for another attempt; 0 when no decorator replays (the body only streams). */
  replayBytes: number;
}

export type CompiledAction =
  | {
    type: 'proxy'; backends: CompiledBackend[]; totalWeight: number; rewrite?: IRUrlRewrite; mirrors: { cluster: Cluster | null; percent: number }[];
    /** With fallback Backends among the others: the rule's traffic goes to `primary` while one of them has a healthy replica. */
    failover?: { primary: CompiledBackend[]; primaryWeight: number; fallback: CompiledBackend[]; fallbackWeight: number };
  }
  | IRRedirectAction
  /** The direct response's answer, built once per snapshot. */
  | (IRDirectResponseAction & { reply: Reply });

export interface DataRoute extends CompiledRoute {
  chain: Chain;
  /** [chain]: the response hooks a reply on this hop runs, built once. */
  chains: readonly Chain[];
  action: CompiledAction;
  timeouts: IRRoute['timeouts'];
  /** Identity headers any filter of the route or of its backends sets (lowercase): removed from the client's request first. */
  identityHeaders: readonly string[];
  /** responseOverride, compiled (sendReply and the exchange read it through ctx.route). */
  overrides?: ReplyOverrides;
  /** The listener's ClientTrafficPolicy headers.enableEnvoyHeaders: the router's x-envoy-* headers (proxy.ts, exchange.ts). */
  envoyHeaders: boolean;
  /** The listener's ClientTrafficPolicy drops HTTP/1 trailers (http1.enableTrailers unset): exchange.ts. */
  dropHttp1Trailers: boolean;
  /** The listener's ClientTrafficPolicy http1.preserveHeaderCase (proxy.ts, exchange.ts: header-case.ts). */
  preserveHeaderCase: boolean;
}

export interface CompiledListener {
  ir: IRListener;
  router: Router<DataRoute>;
  /** SNI → secure context, built once; the first certificate is the default. */
  secureContexts: { hostnames: string[]; context: SecureContext }[];
  /** Some chain on this listener reads the body before deciding (the handler then offers decide() a BodySource). */
  readsBody: boolean;
  /** ClientTrafficPolicy clientIPDetection, when it is more than a hop count. */
  clientIp?: ClientIpResolver;
  /** Client certificate checks OpenSSL does not make (peer-check.ts), run once per connection. */
  peerCheck?: CompiledPeerCheck;
  /** The listener answers some requests itself before routing (listener-answers.ts): escapedSlashes or healthCheckPath. */
  answers: boolean;
}

export interface CompiledSnapshot {
  version: string;
  ir: Snapshot;
  listeners: Map<number, CompiledListener>;
  close(): void;
}

export class CompileError extends Error {}

/** The chain's re-route point: after the last filter that asks, when it or an earlier one says so. */
function rerouteAfter(prev: Reroute | undefined, at: number, when: (ctx: RequestContext) => boolean): Reroute {
  const earlier = prev?.when;
  return { at, when: earlier ? (ctx) => earlier(ctx) || when(ctx) : when, router: undefined };
}

/** Every identity header the route's filters and its backends' filters set, once per snapshot. */
function identityHeadersOf(r: IRRoute): string[] {
  const names = new Set<string>();
  const add = (list: IRFilter[]): void => {
    for (const f of list) for (const h of filterModule(f.type)?.identityHeaders?.(f.config) ?? []) names.add(h.toLowerCase());
  };
  add(r.filters);
  if (r.action.type === 'proxy') for (const b of r.action.backends) add(b.filters);
  return [...names];
}

/** One read serves every filter: the largest size, partial only if every filter accepts it. */
function widerNeed(a: BodyNeed | undefined, b: BodyNeed): BodyNeed {
  if (!a) return { ...b };
  return { maxBytes: Math.max(a.maxBytes, b.maxBytes), allowPartial: a.allowPartial && b.allowPartial };
}

/** The filter types a snapshot uses, on routes and on backends. */
function filterTypesOf(ir: Snapshot): Set<string> {
  const types = new Set<string>();
  for (const l of ir.listeners) {
    for (const r of l.routes) {
      for (const f of r.filters) types.add(f.type);
      if (r.action.type === 'proxy') for (const b of r.action.backends) for (const f of b.filters) types.add(f.type);
    }
  }
  return types;
}

/** Compile a snapshot, once the filter modules it uses are loaded. */
export async function compileSnapshot(ir: Snapshot, pools: PoolRegistry): Promise<CompiledSnapshot> {
  await loadFilterModules(filterTypesOf(ir));
  return compileLoaded(ir, pools);
}

function compileLoaded(ir: Snapshot, pools: PoolRegistry): CompiledSnapshot {
  const filters: CompiledFilter[] = [];
  const clusters = new Map<string, Cluster>();
  const balancers: Balancer[] = [];
  const clusterFor = (id: string | null): Cluster | null => {
    if (id === null) return null;
    let c = clusters.get(id);
    if (!c) {
      const b = ir.backends[id];
      if (!b) throw new CompileError(`route references unknown backend ${id}`);
      clusters.set(id, (c = new Cluster(b, pools)));
    }
    return c;
  };
  const chainOf = (list: IRFilter[], listener: IRListener): Chain => {
    const chain: Chain = { request: [], response: [] };
    for (const f of list) {
      const mod = filterModule(f.type);
      if (!mod) throw new CompileError(`no filter module for type ${f.type}`);
      const compiled = mod.compile(f.config, { snapshot: ir, origin: f.origin, listener });
      filters.push(compiled);
      if (compiled.onRequest) chain.request.push({ type: f.type, origin: f.origin, fn: compiled.onRequest });
      if (compiled.onRequest && compiled.recomputeRoute) chain.reroute = rerouteAfter(chain.reroute, chain.request.length - 1, compiled.recomputeRoute);
      if (compiled.needsBody) chain.body = widerNeed(chain.body, compiled.needsBody);
      if (compiled.onResponse) chain.response.push(compiled.onResponse);
    }
    return chain;
  };
  const compileAction = (r: IRRoute, routeChain: Chain, l: IRListener): CompiledAction => {
    const a = r.action;
    if (a.type === 'direct') return { ...a, reply: { status: a.status, body: a.body, headers: a.contentType ? { 'content-type': a.contentType } : undefined } };
    if (a.type !== 'proxy') return a;
    const backends = a.backends.map((b): CompiledBackend => {
      const chain = chainOf(b.filters, l);
      const cluster = clusterFor(b.backend);
      const upstream = cluster ? composeUpstream(decoratorsFor(r, b, cluster)) : { dispatch: dispatchToReplica, replayBytes: 0 };
      const balancer = cluster ? new Balancer(cluster, r, b) : null;
      if (balancer) balancers.push(balancer);
      return {
        cluster,
        balancer,
        weight: b.weight,
        chain,
        chains: [routeChain, chain],
        requestHeaders: b.requestHeaders,
        responseHeaders: b.responseHeaders,
        dispatch: upstream.dispatch,
        replayBytes: upstream.replayBytes,
      };
    });
    const primary = backends.filter((b) => !b.cluster?.ir.fallback);
    const fallback = backends.filter((b) => b.cluster?.ir.fallback);
    const sum = (list: CompiledBackend[]) => list.reduce((s, b) => s + b.weight, 0);
    return {
      type: 'proxy',
      backends,
      totalWeight: sum(backends),
      rewrite: a.rewrite,
      mirrors: a.mirrors.map((m) => ({ cluster: clusterFor(m.backend), percent: m.percent })),
      ...(primary.length > 0 && fallback.length > 0 ? { failover: { primary, primaryWeight: sum(primary), fallback, fallbackWeight: sum(fallback) } } : {}),
    };
  };

  try {
    const listeners = new Map<number, CompiledListener>();
    for (const l of ir.listeners) {
      const routes: DataRoute[] = l.routes.map((r) => {
        const chain = chainOf(r.filters, l);
        const overrides = r.traffic?.responseOverride?.length ? new ReplyOverrides(r.traffic.responseOverride) : undefined;
        return { id: r.id, label: r.label, ir: r, chain, chains: [chain], action: compileAction(r, chain, l), timeouts: r.timeouts, identityHeaders: identityHeadersOf(r), overrides, envoyHeaders: l.clientHeaders?.envoyHeaders === true, dropHttp1Trailers: l.http1Trailers === false, preserveHeaderCase: l.preserveHeaderCase === true };
      });
      const secureContexts = (l.tls?.certificates ?? []).map((c) => ({
        hostnames: c.hostnames,
        context: secureContext(c, l, l.tls?.params),
      }));
      const readsBody = routes.some((r) => r.chain.body !== undefined || (r.action.type === 'proxy' && r.action.backends.some((b) => b.chain.body !== undefined)));
      const router = new Router(routes);
      for (const r of routes) if (r.chain.reroute) r.chain.reroute.router = router;
      listeners.set(l.port, { ir: l, router, secureContexts, readsBody, peerCheck: compilePeerCheck(l.tls?.clientValidation), clientIp: l.clientIpDetection ? compileClientIp(l.clientIpDetection) : undefined, answers: l.escapedSlashes !== undefined || l.healthCheckPath !== undefined });
    }
    return {
      version: ir.version,
      ir,
      listeners,
      close() {
        for (const f of filters) f.close?.();
        for (const b of balancers) b.close();
        for (const c of clusters.values()) c.close();
      },
    };
  } catch (err) {
    for (const f of filters) f.close?.();
    for (const b of balancers) b.close();
    for (const c of clusters.values()) c.close();
    throw err;
  }
}

/** A TLS context, or an error that names the certificate and the port (not only OpenSSL's words). */
function secureContext(c: IRCertificate, l: IRListener, params: IRTlsParams | undefined): SecureContext {
  const cv = l.tls?.clientValidation;
  const port = l.port;
  try {
    return createSecureContext({ cert: c.certPem, key: c.keyPem, ca: cv?.caPem, crl: cv?.crlPems, ...params, ...resumptionOptions(l) });
  } catch (err) {
    throw new CompileError(`the certificate of ${c.source} for port ${port} does not load: ${(err as Error).message.split('\n')[0]}`);
  }
}
