// The route's proxy action once decided (decide.ts picked the backend and ran
// both hops): pick a replica, build the upstream request and hand it to an
// UpstreamExchange (exchange.ts), which streams the answer back.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import { PassThrough, Transform } from 'node:stream';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../core/request.ts';
import { gatewayReply } from '../core/replies.ts';
import type { CompiledAction } from './compile.ts';
import type { DecidedRequest } from './decide.ts';
import { copyEndToEnd } from './headers.ts';
import { replacePath, type Res } from './respond.ts';
import { BodyTooLarge, UpstreamExchange } from './exchange.ts';
import { applyHeaderModifier } from '../filters/header-modifier.ts';
import { sendContinue } from './expect.ts';
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
  const member = cluster.pick();
  if (!member) {
    obs.upstreamError(cluster.id, 'no_endpoint');
    return obs.reply(res, ctx, gatewayReply('noHealthyUpstream'), wb.chains);
  }
  const h = ctx.headers;
  // Connection-named headers were removed on arrival (client-headers.ts), before
  // the filters added theirs: naming them again here would strip the gateway's own.
  const headers = copyEndToEnd(h, undefined);
  // HTTP/2 clients send :authority instead of Host.
  if (headers.host === undefined) headers.host = ctx.headers[':authority'] as string ?? ctx.host;
  const xff = h['x-forwarded-for'];
  // The client's connection peer, whether or not a destination hop saw the gateway as its peer.
  const peer = ctx.connectionPeer;
  headers['x-forwarded-for'] = xff ? `${xff}, ${peer}` : peer;
  headers['x-forwarded-proto'] = ctx.scheme;
  if (headers['x-forwarded-host'] === undefined) headers['x-forwarded-host'] = headers.host;
  headers['x-request-id'] = ctx.requestId;
  if (wb.requestHeaders) applyHeaderModifier(wb.requestHeaders, headers);
  let path = ctx.path;
  if (action.rewrite) {
    if (action.rewrite.path) path = replacePath(ctx.path, action.rewrite.path, ctx.matchedPrefix);
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
