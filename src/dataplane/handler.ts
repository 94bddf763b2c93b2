// Where a request enters: the socket work around decide() (decide.ts). Here:
// the snapshot serving the port, the size limits, the connection's facts
// (peer, TLS), then the decided answer is written or the request forwarded.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { TLSSocket } from 'node:tls';
import { verifiedPeerOf } from '../auth/spiffe.ts';
import type { TlsInfo } from '../core/request.ts';
import { gatewayReply, type GatewayReplyName } from '../core/replies.ts';
import type { CompiledSnapshot } from './compile.ts';
import { decideOn, DecidedRequest, plainIp, type Decided } from './decide.ts';
import { forward } from './proxy.ts';
import { proxiedAddress } from './proxy-protocol.ts';
import { fingerprintsOf } from './tls-fingerprint.ts';
import { RequestBody } from './read-body.ts';
import { sendReply } from './respond.ts';
import { peerChainOf } from './client-cert-header.ts';
import { CLIENT_CLOSED, type Observer } from './observe.ts';
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

/** Answers for requests refused before any decision (404 without listener, 413, 414). */
function early(req: Req, res: Res, obs: Observer, startMs: number, name: GatewayReplyName): void {
  const reply = gatewayReply(name);
  sendReply(res, undefined, reply, []);
  obs.early(req.method ?? '-', (req.url ?? '/').slice(0, 256), reply.status, startMs);
}

export function handleRequest(src: SnapshotSource, obs: Observer, port: number, req: Req, res: Res): void {
  const startMs = performance.now();
  // A port opened by a snapshot still being committed is served by that snapshot.
  const listener = src.current?.listeners.get(port) ?? src.pending?.listeners.get(port);
  const target = req.url ?? '/';
  if (!listener) return early(req, res, obs, startMs, 'noListener');
  const lim = src.limits;
  if (target.length > lim.maxUrlBytes) return early(req, res, obs, startMs, 'uriTooLong');
  if (listener.ir.http10 === false && req.httpVersionMinor === 0 && req.httpVersionMajor === 1) return early(req, res, obs, startMs, 'upgradeRequired');
  if (lim.maxBodyBytes > 0) {
    const cl = req.headers['content-length'];
    if (cl !== undefined && Number(cl) > lim.maxBodyBytes) return early(req, res, obs, startMs, 'payloadTooLarge');
  }
  const socket = req.socket as TLSSocket;
  const encrypted = socket.encrypted === true;
  let d: Decided;
  try {
    d = decideOn(listener, {
      method: req.method ?? 'GET',
      target,
      headers: req.headers,
      port,
      scheme: encrypted ? 'https' : 'http',
      // The PROXY protocol header's client, on listeners that read one (proxy-protocol.ts).
      remoteIp: plainIp(listener.ir.proxyProtocol ? proxiedAddress(socket) : socket.remoteAddress),
      localIp: plainIp(socket.localAddress),
      tls: encrypted ? tlsInfo(req, socket, listener.ir.connection.forwardClientCert?.details.includes('Chain') === true) : undefined,
      tracing: obs.tracing,
      startMs,
      body: listener.readsBody ? new RequestBody(req, res, lim.maxBodyBytes, listener.ir.connection.bufferLimitBytes) : undefined,
    });
  } catch (err) {
    // decide() turns a failing filter into a 500 itself; this is a bug in decide.
    obs.logInternalError(undefined, err);
    return early(req, res, obs, startMs, 'internalError');
  }
  if (d instanceof DecidedRequest) act(d, req, res, obs, lim.maxBodyBytes);
  else {
    d.then((ctx) => {
      // The client left while a filter was deciding: nothing to answer, nothing to send upstream.
      if (res.destroyed) obs.done(ctx, CLIENT_CLOSED, undefined);
      else act(ctx, req, res, obs, lim.maxBodyBytes);
    });
  }
}

/** Write the decided answer, or forward the request to the backend decided on. */
function act(ctx: DecidedRequest, req: Req, res: Res, obs: Observer, bodyLimit: number): void {
  if (ctx.error !== undefined) obs.logInternalError(ctx, ctx.error);
  try {
    if (ctx.answer) obs.reply(res, ctx, ctx.answer, ctx.replyChains);
    else forward(ctx, req, res, obs, bodyLimit);
  } catch (err) {
    obs.internalError(ctx, res, err);
  }
}

function tlsInfo(req: Req, socket: TLSSocket, wantsChain: boolean): TlsInfo {
  // HTTP/2 hands each request a proxy object as req.socket: ask the session's
  // socket, so that the verified peer is computed once per connection.
  const conn = ('stream' in req ? (req.stream.session?.socket as TLSSocket | undefined) : undefined) ?? socket;
  const peer = verifiedPeerOf(conn);
  const sni = (conn as TLSSocket & { servername?: string | false }).servername || undefined;
  const fp = fingerprintsOf(conn);
  const info: TlsInfo = { sni, peerVerified: peer.verified, peerUris: peer.uris, peerCertDer: peer.der, peerIdentity: peer.identity, ja3: fp?.ja3, ja4: fp?.ja4 };
  if (wantsChain && peer.verified) info.peerChainDer = peerChainOf(conn);
  return info;
}
