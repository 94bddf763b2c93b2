// decide(snapshot, request): everything that settles a request's answer, in
// one place and without a socket — the listener (handler.ts), `portcullis
// explain` and tests all call it (fastify's inject() is the model). The
// handler keeps only the socket work around it: limits, streaming, upstream.
//
// In order: client address (X-Forwarded-For trust), path normalization, the
// normalized authority, routing, the gateway hop's chain, the route's action
// (redirect, direct response, traffic split), the destination hop's chain.
// The result is the request context itself (no second object per request):
// the route, the backend picked, the decisions (trace), and the answer — a
// Reply, or none when the request goes to `backend`. Synchronous while every
// filter is; a Promise only from the first filter that needs I/O.
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { IRMatch } from '../ir/types.ts';
import { RequestContext, type BufferedBody, type RequestInit, type TlsInfo } from '../core/request.ts';
import type { BodyNeed } from '../filters/types.ts';
import type { Decision, Reply } from '../core/decision.ts';
import { gatewayReply } from '../core/replies.ts';
import type { Chain, CompiledAction, CompiledBackend, CompiledListener, CompiledSnapshot, DataRoute } from './compile.ts';
import { runChain } from './chain.ts';
import { splitTarget } from './path.ts';
import { listenerAnswer } from './listener-answers.ts';
import { hostOfAuthority, requestAuthority } from './authority.ts';
import { redirectLocation } from './respond.ts';
import { newRequestId } from './request-id.ts';
import { sanitizeClientHeaders, stripIdentityHeaders } from './client-headers.ts';
import { recomputeRoute } from './recompute-route.ts';

/** One request as it arrived, transport-free: what the listener, explain or a test knows. */
export interface RequestFacts {
  method: string;
  /** The request target exactly as sent (path and query, or absolute-form). */
  target: string;
  /** Lowercase names; Host or :authority among them. Filters may change it (it becomes the upstream request's). */
  headers: IncomingHttpHeaders;
  /** The listener's port. */
  port: number;
  scheme: 'http' | 'https';
  /** The directly connected peer. */
  remoteIp: string;
  /** The local address the connection arrived on. */
  localIp: string;
  tls: TlsInfo | undefined;
  /** Record every decision, not only denials. */
  tracing: boolean;
  /** When absent: the client's X-Request-Id if usable, else a new one. */
  requestId?: string;
  startMs?: number;
  /**
   * Where the body comes from when a chain's filters must read it before
   * deciding (needsBody); the listener passes one only if some chain of it
   * does. Without it (explain) such filters see no body.
   */
  body?: BodySource;
}

/** Reads the request body once, bounded by the widest need; undefined: over the bound (413) or the client left. */
export interface BodySource {
  read(need: BodyNeed): Promise<BufferedBody | undefined>;
}

type ProxyAction = Extract<CompiledAction, { type: 'proxy' }>;

const NO_CHAINS: readonly Chain[] = [];

/** A request once decided: the context the filters saw, plus what was decided. */
export class DecidedRequest extends RequestContext {
  declare route: DataRoute | undefined;
  /** The backend the traffic split picked (proxy routes that got that far). */
  declare backend: CompiledBackend | undefined;
  /** The gateway's answer; undefined = send the request to `backend`. */
  declare answer: Reply | undefined;
  /** Response hooks the answer runs through: none, the route's hop, or both hops. */
  declare replyChains: readonly Chain[];
  /** Which hop answered, for explain: 'gateway' (incl. routing and the action) or 'destination'. */
  declare answeredOn: 'gateway' | 'destination';
  /** The route first matched, when recomputeRoute chose `route` after it (explain shows both). */
  declare reroutedFrom: DataRoute | undefined;
  /** The route match that matched. */
  declare match: IRMatch | undefined;
  /** Its PathPrefix value, when it is one (URLRewrite ReplacePrefixMatch needs it). */
  declare matchedPrefix: string | undefined;
  /**
   * The address of the client's connection. remoteIp is what each hop's
   * policies see (the gateway's own address on the destination hop); upstream
   * X-Forwarded-For is told about this one either way.
   */
  declare connectionPeer: string;
  /** RequestFacts.body: read when a chain needs the body (then ctx.body holds it). */
  declare bodySource: BodySource | undefined;
  /** A filter threw: the answer is a 500 and this is what the log should say. */
  declare error: unknown;

  constructor(init: RequestInit, connectionPeer: string, bodySource?: BodySource) {
    super(init);
    // Assigned, not class-field initializers: one hidden class, no defineProperty per request.
    this.backend = undefined;
    this.answer = undefined;
    this.replyChains = NO_CHAINS;
    this.answeredOn = 'gateway';
    this.reroutedFrom = undefined;
    this.match = undefined;
    this.matchedPrefix = undefined;
    this.connectionPeer = connectionPeer;
    this.bodySource = bodySource;
    this.error = undefined;
  }
}

export type Decided = DecidedRequest | Promise<DecidedRequest>;

/**
 * The request's X-Request-ID by the listener's ClientTrafficPolicy
 * headers.requestID (absent: PreserveOrGenerate). '' = none: nothing is sent
 * upstream (Preserve without one, Disable; the client's is removed then).
 */
function requestIdOf(headers: IncomingHttpHeaders, mode: 'PreserveOrGenerate' | 'Preserve' | 'Generate' | 'Disable' | undefined): string {
  const sent = headers['x-request-id'];
  const usable = typeof sent === 'string' && sent.length > 0 && sent.length <= 200;
  if (mode === undefined || mode === 'PreserveOrGenerate') return usable ? sent : newRequestId();
  if (mode === 'Preserve') return usable ? sent : '';
  if (sent !== undefined) delete headers['x-request-id'];
  return mode === 'Generate' ? newRequestId() : '';
}

/** decide() on the listener of the request's port; undefined when the snapshot has none there. */
export function decide(snapshot: CompiledSnapshot, facts: RequestFacts): Decided | undefined {
  const listener = snapshot.listeners.get(facts.port);
  return listener ? decideOn(listener, facts) : undefined;
}

/** The whole decision on one listener: both hops. */
export function decideOn(listener: CompiledListener, facts: RequestFacts): Decided {
  const d = decideGatewayHop(listener, facts);
  return d instanceof DecidedRequest ? toBackend(d) : d.then(toBackend);
}

/** A proxy route that the gateway hop let through goes on to its backend. */
function toBackend(d: DecidedRequest): Decided {
  if (d.answer || d.route === undefined) return d;
  try {
    return chooseBackend(d);
  } catch (err) {
    return failed(d, err);
  }
}

/**
 * Address, path, authority, routing, the gateway hop's chain and the route's
 * own action. A proxy route comes back without an answer and without a
 * backend: decideBackend() (or decideOn) goes on from there.
 */
export function decideGatewayHop(listener: CompiledListener, facts: RequestFacts): Decided {
  const l = listener.ir;
  const headers = facts.headers;
  // Before routing and before any filter adds a header (client-headers.ts).
  const headOk = sanitizeClientHeaders(headers, l, facts.tls);
  const split = splitTarget(facts.target, l.pathNormalization);
  const authority = split ? requestAuthority(headers) : '';
  // ClientTrafficPolicy clientIPDetection when it is more than a hop count (undefined: refused, customHeader failClosed).
  const clientIp = listener.clientIp
    ? listener.clientIp(headers, facts.remoteIp)
    : l.xffTrustedHops > 0 ? clientFromXff(headers['x-forwarded-for'], l.xffTrustedHops, facts.remoteIp) : facts.remoteIp;
  const requestId = facts.requestId ?? requestIdOf(headers, l.clientHeaders?.requestId);
  // The facts are the init: the derived fields are set on the context, so that no
  // second object is built per request.
  const ctx = new DecidedRequest(facts, facts.remoteIp, facts.body);
  ctx.host = authority ? hostOfAuthority(authority) : '';
  ctx.authority = authority ?? '';
  ctx.path = split ? split.path : facts.target.slice(0, 256);
  ctx.query = split ? split.query : '';
  ctx.clientIp = clientIp ?? facts.remoteIp;
  ctx.requestId = requestId;
  ctx.lateHeaders = l.clientHeaders?.late;
  if (!headOk) return answered(ctx, gatewayReply('badRequest'), NO_CHAINS, 'headers: a header name has an underscore (ClientTrafficPolicy withUnderscoresAction RejectRequest)');
  if (!split) return answered(ctx, gatewayReply('badPath'), NO_CHAINS, 'path: cannot be normalized');
  // ClientTrafficPolicy escapedSlashesAction / healthCheck: the listener answers itself (one check when neither is set).
  if (listener.answers) {
    const own = listenerAnswer(l, facts.target, split, headers);
    if (own) return answered(ctx, own.reply, NO_CHAINS, own.why);
  }
  if (clientIp === undefined) return answered(ctx, gatewayReply('clientAddressMissing'), NO_CHAINS, 'client address: the ClientTrafficPolicy customHeader is missing or not an IP (failClosed)');
  // Malformed (brackets around a name, userinfo, a list — two Host headers joined by ", "), or Host ≠ :authority.
  if (authority === null) return answered(ctx, gatewayReply('badHost'), NO_CHAINS, 'authority: malformed Host / :authority');
  const match = listener.router.match(ctx.host, ctx.path, ctx.method, headers, ctx.query);
  if (!match) return answered(ctx, gatewayReply('noRoute'), NO_CHAINS);
  const route = match.route;
  ctx.route = route;
  if (route.identityHeaders.length > 0) stripIdentityHeaders(headers, route.identityHeaders);
  ctx.match = match.match;
  if (match.match.path.type === 'PathPrefix') ctx.matchedPrefix = match.match.path.value;
  // A route without policies runs no filter code at all.
  if (route.chain.request.length === 0) return routeAction(ctx, route);
  // recomputeRoute: the chain runs up to the filter that may re-route, then afterReroutePoint goes on.
  const rr = route.chain.reroute;
  if (rr) return afterChain(ctx, route.chain, route.chains, afterReroutePoint, 0, rr.at + 1);
  return afterChain(ctx, route.chain, route.chains, routeAction);
}

/** The rest of the chain, of the route chosen again with the headers the filters set (recompute-route.ts). */
function afterReroutePoint(ctx: DecidedRequest, route: DataRoute): Decided {
  let r;
  try {
    r = recomputeRoute(ctx, route);
  } catch (err) {
    return failed(ctx, err);
  }
  if (!r) return answered(ctx, gatewayReply('noRoute'), route.chains);
  return afterChain(ctx, r.route.chain, r.route.chains, routeAction, r.from);
}

/** The route's action once the gateway hop let the request through. */
function routeAction(ctx: DecidedRequest, route: DataRoute): DecidedRequest {
  const a = route.action;
  switch (a.type) {
    case 'redirect':
      return answered(ctx, { status: a.statusCode, headers: { location: redirectLocation(ctx, a, ctx.matchedPrefix) } }, route.chains);
    case 'direct':
      return answered(ctx, a.reply, route.chains);
    case 'proxy':
      if (a.backends.length === 0) return answered(ctx, gatewayReply('noValidBackend'), route.chains, 'route: no backend');
      return ctx;
  }
}

/** The traffic split's pick (a random draw by weight), then its destination hop. */
function chooseBackend(ctx: DecidedRequest): Decided {
  const route = ctx.route!;
  const action = route.action as ProxyAction;
  // sessionPersistence: a request whose session names a replica goes to that replica's backend, whatever the split.
  const b = (route.ir.traffic?.sessionPersistence && action.backends.length > 1 ? action.backends.find((x) => x.balancer?.holdsSession(ctx.headers)) : undefined) ?? pickBackend(action);
  if (!b || !b.cluster) return answered(ctx, gatewayReply('noValidBackend'), route.chains, 'backend: no valid backend');
  return decideBackend(ctx, b);
}

/** The destination hop of one backend (explain runs it for every backend of a split). */
export function decideBackend(ctx: DecidedRequest, b: CompiledBackend): Decided {
  const route = ctx.route!;
  ctx.backend = b;
  ctx.replyChains = b.chains;
  if (!b.cluster) return answered(ctx, gatewayReply('noValidBackend'), route.chains, 'backend: invalid reference');
  if (b.chain.request.length === 0) return ctx;
  enterDestinationHop(ctx, route);
  ctx.answeredOn = 'destination';
  return afterChain(ctx, b.chain, b.chains, keep);
}

const keep = (ctx: DecidedRequest): DecidedRequest => ctx;

/** Run a hop's chain: its reply is the answer, else `next` goes on (synchronously while the filters are). */
function afterChain(ctx: DecidedRequest, chain: Chain, replyChains: readonly Chain[], next: (ctx: DecidedRequest, route: DataRoute) => Decided, from = 0, to = chain.request.length): Decided {
  if (chain.body && ctx.body === undefined && ctx.bodySource) {
    // A filter decides on the body: read it once (bounded) before the chain runs.
    return ctx.bodySource.read(chain.body).then(
      (body) => {
        if (!body) return answered(ctx, gatewayReply('payloadTooLarge'), replyChains, `body: over the ${chain.body!.maxBytes} bytes a filter reads`);
        ctx.body = body;
        return runHop(ctx, chain, replyChains, next, from, to);
      },
      (err: unknown) => failed(ctx, err),
    );
  }
  return runHop(ctx, chain, replyChains, next, from, to);
}

function runHop(ctx: DecidedRequest, chain: Chain, replyChains: readonly Chain[], next: (ctx: DecidedRequest, route: DataRoute) => Decided, from: number, to: number): Decided {
  let d: Reply | undefined | Promise<Decision>;
  try {
    d = runChain(ctx, chain, from, to);
  } catch (err) {
    return failed(ctx, err);
  }
  if (d === undefined) return next(ctx, ctx.route!);
  if ('then' in d) {
    // Whatever fails after the await (a filter, or what comes next) is this request's 500.
    return d.then((reply) => (reply ? answered(ctx, reply, replyChains) : next(ctx, ctx.route!))).catch((err: unknown) => failed(ctx, err));
  }
  return answered(ctx, d, replyChains);
}

function answered(ctx: DecidedRequest, reply: Reply, replyChains: readonly Chain[], why?: string): DecidedRequest {
  ctx.answer = reply;
  ctx.replyChains = replyChains;
  if (why && ctx.trace) ctx.record({ filter: 'gateway', decision: 'info', reason: why });
  return ctx;
}

/** A filter that throws costs this request a 500, never the process. */
function failed(ctx: DecidedRequest, err: unknown): DecidedRequest {
  ctx.error = err;
  ctx.record({ filter: 'gateway', decision: 'error', reason: 'internal error' });
  return answered(ctx, gatewayReply('internalError'), NO_CHAINS);
}

export function pickBackend(a: ProxyAction): CompiledBackend | undefined {
  const f = a.failover;
  if (f === undefined) return weighted(a.backends, a.totalWeight);
  // Envoy Gateway's fallback Backends (a lower priority): used once no other backend has a healthy replica.
  for (const b of f.primary) if (b.weight > 0 && b.balancer !== null && b.balancer.healthyCount() > 0) return weighted(f.primary, f.primaryWeight);
  return weighted(f.fallback, f.fallbackWeight);
}

function weighted(list: readonly CompiledBackend[], totalWeight: number): CompiledBackend | undefined {
  if (list.length === 1) return list[0].weight > 0 ? list[0] : undefined;
  if (totalWeight <= 0) return undefined;
  let r = Math.random() * totalWeight;
  for (let i = 0; i < list.length; i++) {
    r -= list[i].weight;
    if (r < 0) return list[i];
  }
  return list[list.length - 1];
}

/**
 * The destination hop sees the request as the backend's own proxy would in a
 * mesh: its peer is the gateway (whose workload identity is the one Istio gives
 * a Gateway API gateway: service account "<gateway>-istio"), its source.ip the
 * gateway's address, and only the JWT that was forwarded to it.
 */
export function enterDestinationHop(ctx: RequestContext, route: DataRoute): void {
  const gw = route.ir.section.gateway;
  ctx.identity = { principal: `cluster.local/ns/${gw.namespace}/sa/${gw.name}-istio`, sourceNamespace: gw.namespace };
  ctx.remoteIp = ctx.localIp;
}

export function plainIp(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/**
 * The client address with N trusted proxies in front (Envoy's xff_num_trusted_hops):
 * the Nth address from the right of X-Forwarded-For; the peer when the header is short or absent.
 */
export function clientFromXff(xff: string | string[] | undefined, hops: number, peer: string): string {
  if (xff === undefined) return peer;
  const list = (Array.isArray(xff) ? xff.join(',') : xff).split(',');
  const i = list.length - hops;
  if (i < 0) return peer;
  const ip = list[i].trim();
  return isIP(ip) ? plainIp(ip) : peer;
}
