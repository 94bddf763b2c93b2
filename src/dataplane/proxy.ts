// The route's proxy action once decided (decide.ts picked the backend and ran
// both hops): pick a replica, build the upstream request and hand it to an
// UpstreamExchange (exchange.ts), which streams the answer back.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { Readable } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../core/request.ts';
import type { CompiledAction } from './compile.ts';
import type { DecidedRequest } from './decide.ts';
import { copyEndToEnd } from './headers.ts';
import { replacePath, type Res } from './respond.ts';
import { UpstreamExchange } from './exchange.ts';
import { withRawCase } from './header-case.ts';
import { mirrorSink, requestHasBody, upstreamBody, type MirrorSink } from './body.ts';
export { requestHasBody } from './body.ts';
import type { UpstreamRequest } from '../upstream/decorators.ts';
import { ReplayableBody } from '../upstream/replayable-body.ts';
import { applyHeaderModifier } from '../filters/header-modifier.ts';
import { sendContinue } from './expect.ts';
import { setEnvoyRequestHeaders } from './envoy-headers.ts';
import type { Observer } from './observe.ts';

type ProxyAction = Extract<CompiledAction, { type: 'proxy' }>;
type Req = IncomingMessage | Http2ServerRequest;

/**
 * Send a decided request (decide.ts: no answer, a backend picked) to one
 * replica of its backend; the exchange streams the answer back.
 */
export function forward(ctx: DecidedRequest, req: Req, res: Res, obs: Observer, bodyLimit: number): void {
  const route = ctx.route!;
  const action = route.action as ProxyAction;
  const wb = ctx.backend!;
  const cluster = wb.cluster!;
  const h = ctx.headers;
  // Connection-named headers were removed on arrival (client-headers.ts), before
  // the filters added theirs: naming them again here would strip the gateway's own.
  const headers = copyEndToEnd(h, undefined);
  // HTTP/2 clients send :authority instead of Host.
  if (headers.host === undefined) headers.host = ctx.headers[':authority'] as string ?? ctx.host;
  // TE is hop-by-hop, but "trailers" is the one value HTTP/2 allows, and gRPC servers require it (RFC 9113 §8.2.2).
  const clientH2 = req.httpVersionMajor === 2;
  if (h.te === 'trailers' && (cluster.ir.protocol === 'h2' || (clientH2 && route.ir.traffic?.useClientProtocol === true))) headers.te = 'trailers';
  const xff = h['x-forwarded-for'];
  // The client's connection peer, whether or not a destination hop saw the gateway as its peer.
  const peer = ctx.connectionPeer;
  headers['x-forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
  headers['x-forwarded-proto'] = ctx.scheme;
  if (headers['x-forwarded-host'] === undefined) headers['x-forwarded-host'] = headers.host;
  // '' = none by the listener's ClientTrafficPolicy (requestID Preserve without one, or Disable).
  if (ctx.requestId !== '') headers['x-request-id'] = ctx.requestId;
  if (wb.requestHeaders) applyHeaderModifier(wb.requestHeaders, headers);
  let path = ctx.path;
  if (action.rewrite) {
    if (action.rewrite.path) path = replacePath(ctx.path, action.rewrite.path, ctx.matchedPrefix);
    if (action.rewrite.hostname) headers.host = action.rewrite.hostname;
  }
  if (route.envoyHeaders) setEnvoyRequestHeaders(headers, route, ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path, ctx.query ? `${path}?${ctx.query}` : path);
  if (ctx.query) path += '?' + ctx.query;

  sendContinue(req, res);
  const read = ctx.body;
  const hasBody = read ? read.bytes.length > 0 || read.partial : requestHasBody(req);
  let body: Req | Readable | Buffer | undefined = hasBody ? req : undefined;
  const sinks = action.mirrors.length > 0 ? mirror(ctx, action, headers, path, hasBody, obs) : undefined;
  if (read && !read.partial) {
    // Read whole before the decision (a filter asked for it): sent as it was read.
    body = hasBody ? read.bytes : undefined;
    if (sinks) for (const s of sinks) s.stream.end(read.bytes);
  } else {
    // A declared Content-Length was checked on arrival; a streamed body is counted as it flows.
    const countHere = bodyLimit > 0 && h['content-length'] === undefined;
    if (hasBody && (read || countHere || (sinks !== undefined && sinks.length > 0))) body = upstreamBody(req, read?.bytes, countHere ? bodyLimit : 0, sinks ?? [], obs);
  }
  const exchange = new UpstreamExchange(ctx, res, obs, wb, route.timeouts.requestMs);
  if (route.envoyHeaders) exchange.sentAt = performance.now();
  if (route.dropHttp1Trailers && !clientH2) exchange.dropTrailers = true;
  // preserveHeaderCase: HTTP/1 on both sides only (HTTP/2 names are lower case by definition).
  const preserveCase = route.preserveHeaderCase && !clientH2;
  if (preserveCase) exchange.preserveCase = true;
  const opts: UpstreamRequest = {
    path,
    method: ctx.method as Dispatcher.HttpMethod,
    headers: preserveCase && cluster.ir.protocol !== 'h2' ? withRawCase(headers, req.rawHeaders) : headers,
    body: body as Dispatcher.DispatchOptions['body'],
    headersTimeout: route.timeouts.backendRequestMs,
    bodyTimeout: 0,
    cluster,
    balancer: wb.balancer ?? undefined,
    source: ctx.clientIp,
    attempt: exchange,
    clientH2,
  };
  if (body !== undefined && wb.replayBytes > 0) {
    const replay = new ReplayableBody(Buffer.isBuffer(body) ? Readable.from([body]) : body, wb.replayBytes);
    opts.replay = replay;
    opts.body = replay.stream();
  }
  wb.dispatch(opts, exchange);
}


/** Send a copy to each mirror (fire and forget); returns the sinks their bodies are copied into. */
function mirror(ctx: RequestContext, action: ProxyAction, headers: Record<string, string | string[]>, path: string, hasBody: boolean, obs: Observer): MirrorSink[] {
  const sinks: MirrorSink[] = [];
  for (const m of action.mirrors) {
    if (!m.cluster || (m.percent < 100 && Math.random() * 100 >= m.percent)) continue;
    const member = m.cluster.pick();
    if (!member) continue;
    let body: MirrorSink | undefined;
    if (hasBody) sinks.push((body = mirrorSink(m.cluster.id)));
    const id = m.cluster.id;
    member.pool
      .request({ path, method: ctx.method as Dispatcher.HttpMethod, headers: { ...headers }, body: body?.stream, headersTimeout: 15_000 })
      .then((r) => r.body.dump())
      .catch(() => {
        if (!body?.dropped) obs.upstreamError(id, 'mirror');
      });
  }
  return sinks;
}
