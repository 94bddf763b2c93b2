// Where a request enters: limits, path normalization, routing, the route's
// filter chain, then its action (proxy, redirect, direct response).
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { newRequestId } from './request-id.ts';
import { isIP } from 'node:net';
import { verifiedPeerOf } from '../auth/spiffe.ts';
import { RequestContext, type TlsInfo } from './context.ts';
import type { CompiledSnapshot, DataRoute } from './compile.ts';
import { splitTarget } from './path.ts';
import { runChainThen } from './chain.ts';
import { proxy } from './proxy.ts';
import { redirectLocation, sendReply } from './respond.ts';
import type { Observer } from './observe.ts';
import type { IRLimits } from '../ir/types.ts';

type Req = IncomingMessage | Http2ServerRequest;
type Res = ServerResponse | Http2ServerResponse;

export interface SnapshotSource {
  readonly current: CompiledSnapshot | undefined;
  /** Prepared but not yet committed: serves only ports the current snapshot does not have. */
  readonly pending: CompiledSnapshot | undefined;
  /** Limits of the snapshot being served. */
  readonly limits: IRLimits;
}

const NOT_FOUND = { status: 404, body: 'no route\n' };

/** Strip the port from a Host/:authority value and lowercase it ("[::1]:80" → "::1"). */
export function hostOf(authority: string | undefined): string {
  if (!authority) return '';
  if (authority.charCodeAt(0) === 91 /* [ */) {
    const end = authority.indexOf(']');
    return (end > 0 ? authority.slice(1, end) : authority).toLowerCase();
  }
  const colon = authority.indexOf(':');
  return (colon >= 0 ? authority.slice(0, colon) : authority).toLowerCase();
}

function plainIp(addr: string | undefined): string {
  if (!addr) return '';
  return addr.startsWith('::ffff:') && addr.includes('.') ? addr.slice(7) : addr;
}

/** Answers for requests that never reach routing (400, 404 without listener, 413, 414). */
function early(req: Req, res: Res, obs: Observer, startMs: number, status: number, body: string): void {
  sendReply(res, undefined, { status, body, headers: { connection: 'close' } }, []);
  obs.early(req.method ?? '-', (req.url ?? '/').slice(0, 256), status, startMs);
}

export function handleRequest(src: SnapshotSource, obs: Observer, port: number, req: Req, res: Res): void {
  const startMs = performance.now();
  // A port opened by a snapshot still being committed is served by that snapshot.
  const listener = src.current?.listeners.get(port) ?? src.pending?.listeners.get(port);
  const target = req.url ?? '/';
  if (!listener) return early(req, res, obs, startMs, 404, 'no listener\n');
  const lim = src.limits;
  if (target.length > lim.maxUrlBytes) return early(req, res, obs, startMs, 414, 'URI too long\n');
  if (lim.maxBodyBytes > 0) {
    const cl = req.headers['content-length'];
    if (cl !== undefined && Number(cl) > lim.maxBodyBytes) return early(req, res, obs, startMs, 413, 'payload too large\n');
  }
  const split = splitTarget(target, listener.ir.pathNormalization);
  if (!split) return early(req, res, obs, startMs, 400, 'bad request path\n');
  const headers = req.headers;
  const authority = (headers.host ?? headers[':authority']) as string | undefined;
  // Two Host headers (joined with ", ") or one with a list in it: RFC 9112 §3.2 says 400.
  if (authority !== undefined && authority.includes(',')) return early(req, res, obs, startMs, 400, 'bad Host header\n');
  const host = hostOf(authority);
  const method = req.method ?? 'GET';
  const match = listener.router.match(host, split.path, method, headers, split.query);

  const socket = req.socket as TLSSocket;
  const remoteIp = plainIp(socket.remoteAddress);
  const encrypted = socket.encrypted === true;
  let tls: TlsInfo | undefined;
  if (encrypted) tls = tlsInfo(req, socket);
  let requestId = headers['x-request-id'];
  if (typeof requestId !== 'string' || requestId.length === 0 || requestId.length > 200) requestId = newRequestId();
  const ctx: RequestContext = new RequestContext({
    method,
    host,
    port,
    scheme: encrypted ? 'https' : 'http',
    path: split.path,
    query: split.query,
    headers,
    clientIp: listener.ir.xffTrustedHops > 0 ? clientFromXff(headers['x-forwarded-for'], listener.ir.xffTrustedHops, remoteIp) : remoteIp,
    remoteIp,
    localIp: plainIp(socket.localAddress),
    tls,
    requestId,
    tracing: obs.tracing,
    startMs,
  });
  if (!match) return obs.reply(res, ctx, NOT_FOUND, []);
  const route = match.route;
  ctx.route = route;
  const prefix = match.match.path.type === 'PathPrefix' ? match.match.path.value : undefined;
  try {
    // A route without policies runs no filter code at all.
    if (route.chain.request.length === 0) act(ctx, req, res, route, obs, prefix, lim.maxBodyBytes);
    else runChainThen(ctx, res, route.chain, route.chains, obs, () => act(ctx, req, res, route, obs, prefix, lim.maxBodyBytes));
  } catch (err) {
    obs.internalError(ctx, res, err);
  }
}

function act(ctx: RequestContext, req: Req, res: Res, route: DataRoute, obs: Observer, prefix: string | undefined, bodyLimit: number): void {
  const a = route.action;
  switch (a.type) {
    case 'proxy':
      proxy(ctx, req, res, route, a, obs, prefix, bodyLimit);
      return;
    case 'redirect':
      obs.reply(res, ctx, { status: a.statusCode, headers: { location: redirectLocation(ctx, a, prefix) } }, route.chains);
      return;
    case 'direct':
      obs.reply(res, ctx, { status: a.status, body: a.body, headers: a.contentType ? { 'content-type': a.contentType } : undefined }, route.chains);
      return;
  }
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

function tlsInfo(req: Req, socket: TLSSocket): TlsInfo {
  // HTTP/2 hands each request a proxy object as req.socket: ask the session's
  // socket, so that the verified peer is computed once per connection.
  const conn = ('stream' in req ? (req.stream.session?.socket as TLSSocket | undefined) : undefined) ?? socket;
  const peer = verifiedPeerOf(conn);
  const sni = (conn as TLSSocket & { servername?: string | false }).servername || undefined;
  return { sni, peerVerified: peer.verified, peerUris: peer.uris, peerCertDer: peer.der, peerIdentity: peer.identity };
}
