// The route's proxy action: pick a backend (traffic split), run its hop's
// filters, pick a replica, build the upstream request and hand it to an
// UpstreamExchange (exchange.ts), which streams the answer back.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { PassThrough, Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RequestContext } from './context.ts';
import type { CompiledAction, CompiledBackend, DataRoute } from './compile.ts';
import { copyEndToEnd } from './headers.ts';
import { replacePath, type Res } from './respond.ts';
import { BodyTooLarge, UpstreamExchange } from './exchange.ts';
import { applyHeaderModifier } from '../filters/header-modifier.ts';
import { runChainThen } from './chain.ts';
import { sendContinue } from './expect.ts';
import type { Observer } from './observe.ts';

type ProxyAction = Extract<CompiledAction, { type: 'proxy' }>;
type Req = IncomingMessage | Http2ServerRequest;

const NO_BACKEND = { status: 500, body: 'no valid backend\n' };
const NO_ENDPOINT = { status: 503, body: 'no healthy upstream\n' };

export function pickBackend(a: ProxyAction): CompiledBackend | undefined {
  const list = a.backends;
  if (list.length === 1) return list[0].weight > 0 ? list[0] : undefined;
  if (a.totalWeight <= 0) return undefined;
  let r = Math.random() * a.totalWeight;
  for (let i = 0; i < list.length; i++) {
    r -= list[i].weight;
    if (r < 0) return list[i];
  }
  return list[list.length - 1];
}

export function proxy(ctx: RequestContext, req: Req, res: Res, route: DataRoute, action: ProxyAction, obs: Observer, matchedPrefix: string | undefined, bodyLimit: number): void {
  const wb = pickBackend(action);
  if (!wb || !wb.cluster) return obs.reply(res, ctx, NO_BACKEND, route.chains);
  if (wb.chain.request.length === 0) return forward(ctx, req, res, route, action, wb, obs, matchedPrefix, bodyLimit, ctx.remoteIp);
  // The destination hop's view of the peer is for its authorization only:
  // upstream is told about the downstream peer either way.
  const peer = ctx.remoteIp;
  enterDestinationHop(ctx, route);
  runChainThen(ctx, res, wb.chain, wb.chains, obs, () => forward(ctx, req, res, route, action, wb, obs, matchedPrefix, bodyLimit, peer));
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

/** `peer`: the address of the client's connection, appended to X-Forwarded-For. */
function forward(ctx: RequestContext, req: Req, res: Res, route: DataRoute, action: ProxyAction, wb: CompiledBackend, obs: Observer, matchedPrefix: string | undefined, bodyLimit: number, peer: string): void {
  const cluster = wb.cluster!;
  const member = cluster.pick();
  const chains = wb.chains;
  if (!member) {
    obs.upstreamError(cluster.id, 'no_endpoint');
    return obs.reply(res, ctx, NO_ENDPOINT, chains);
  }
  const h = ctx.headers;
  const headers = copyEndToEnd(h, typeof h.connection === 'string' ? h.connection : undefined);
  // HTTP/2 clients send :authority instead of Host.
  if (headers.host === undefined) headers.host = ctx.headers[':authority'] as string ?? ctx.host;
  const xff = h['x-forwarded-for'];
  headers['x-forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
  headers['x-forwarded-proto'] = ctx.scheme;
  if (headers['x-forwarded-host'] === undefined) headers['x-forwarded-host'] = headers.host;
  headers['x-request-id'] = ctx.requestId;
  if (wb.requestHeaders) applyHeaderModifier(wb.requestHeaders, headers);
  let path = ctx.path;
  if (action.rewrite) {
    if (action.rewrite.path) path = replacePath(ctx.path, action.rewrite.path, matchedPrefix);
    if (action.rewrite.hostname) headers.host = action.rewrite.hostname;
  }
  if (ctx.query) path += '?' + ctx.query;

  sendContinue(req, res);
  const hasBody = requestHasBody(req);
  let body: Req | PassThrough | Transform | undefined = hasBody ? req : undefined;
  // A declared Content-Length was checked on arrival; a streamed body is counted as it flows.
  if (hasBody && bodyLimit > 0 && h['content-length'] === undefined) body = req.pipe(limitBody(bodyLimit));
  if (action.mirrors.length > 0) body = mirror(ctx, req, action, headers, path, hasBody, obs) ?? body;

  const opts: Dispatcher.DispatchOptions = {
    path,
    method: ctx.method as Dispatcher.HttpMethod,
    headers,
    body: body as Dispatcher.DispatchOptions['body'],
    headersTimeout: route.timeouts.backendRequestMs,
    bodyTimeout: 0,
  };
  member.pool.dispatch(opts, new UpstreamExchange(ctx, res, obs, wb, member.address, route.timeouts.requestMs));
}

function limitBody(limit: number): Transform {
  let seen = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (seen > limit) cb(new BodyTooLarge(`request body over ${limit} bytes`));
      else cb(null, chunk);
    },
  });
}

export function requestHasBody(req: Req): boolean {
  const h = req.headers;
  if ('stream' in req) return !req.stream.endAfterHeaders; // HTTP/2
  const cl = h['content-length'];
  if (cl !== undefined) return cl !== '0';
  return h['transfer-encoding'] !== undefined;
}

/** Send a copy to each mirror (fire and forget); returns the body stream the primary should read. */
function mirror(ctx: RequestContext, req: Req, action: ProxyAction, headers: Record<string, string | string[]>, path: string, hasBody: boolean, obs: Observer): PassThrough | undefined {
  let primary: PassThrough | undefined;
  const copies: PassThrough[] = [];
  for (const m of action.mirrors) {
    if (!m.cluster || (m.percent < 100 && Math.random() * 100 >= m.percent)) continue;
    const member = m.cluster.pick();
    if (!member) continue;
    let body: PassThrough | undefined;
    if (hasBody) copies.push((body = new PassThrough()));
    member.pool
      .request({ path, method: ctx.method as Dispatcher.HttpMethod, headers: { ...headers }, body, headersTimeout: 15_000 })
      .then((r) => r.body.dump())
      .catch(() => obs.upstreamError(m.cluster!.id, 'mirror'));
  }
  if (hasBody && copies.length > 0) {
    primary = new PassThrough();
    const targets = [primary, ...copies];
    req.on('data', (chunk: Buffer) => { for (const t of targets) t.write(chunk); });
    req.on('end', () => { for (const t of targets) t.end(); });
    req.on('error', (err) => { for (const t of targets) t.destroy(err); });
  }
  return primary;
}
