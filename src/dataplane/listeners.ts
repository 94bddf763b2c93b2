// One server per listening port: HTTP/1.1 and h2c (prior knowledge), or HTTPS with HTTP/2 by ALPN.
// Certificates come from the current snapshot on every handshake (SNI), so a
// reloaded Secret takes effect without reopening the socket.
import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { SecureContext, TLSSocket } from 'node:tls';
import type { IRListener } from '../ir/types.ts';
import type { CompiledListener } from './compile.ts';
import { hostnameMatches } from '../translate/hostnames.ts';
import { boundConnections } from './connection-bounds.ts';
import { applyHttp2Settings, openConnectionWindow } from './http2-settings.ts';
import { deferContinue } from './expect.ts';
import { rawHttp1 } from '../core/replies.ts';
import { socketReason } from './socket-error.ts';
import { serveH2c } from './h2c.ts';
import { checkPeer } from './peer-check.ts';
import { resumptionOptions, serveSessionIds, ticketKeysFor } from './tls-resumption.ts';
import { acceptProxyProtocol, proxiedAddress, type RefusedKind } from './proxy-protocol.ts';
import { acceptFingerprints } from './tls-fingerprint.ts';
import { applyListenerHooks, type ListenerHooks } from './listener-hooks.ts';

export type RequestListener = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;

export interface ListenerServer {
  port: number;
  protocol: IRListener['protocol'];
  maxHeaderBytes: number;
  server: http.Server | http2.Http2SecureServer;
  /** Apply a new snapshot's socket settings: TLS for future handshakes, listener hooks (listener-hooks.ts). */
  updateTls(l: CompiledListener): void;
  close(deadlineMs: number): Promise<void>;
}

export interface ListenerOptions {
  host: string;
  port: number;
  maxHeaderBytes: number;
  /** Each worker binds its own socket (SO_REUSEPORT) and the kernel spreads connections. */
  reusePort: boolean;
  current: () => CompiledListener | undefined;
  onRequest: RequestListener;
  onError: (err: Error) => void;
  /** An answer the listener gave itself, before any request object existed (431, 400). */
  onClientReply: (status: number, reason: string, client: string) => void;
  /** A connection closed unanswered for what it sent first (a missing or malformed PROXY protocol header). */
  onRefusedConnection: (kind: RefusedKind, detail: string, client: string) => void;
}

const BAD_REQUEST = rawHttp1('badRequest');
const HEADERS_TOO_LARGE = rawHttp1('headersTooLarge');

/** Node's parser refused the request before any handler ran: answer 431 or 400, and say so (log, metrics). */
function clientErrorHandler(onReply: ListenerOptions['onClientReply']): (err: NodeJS.ErrnoException, socket: Socket) => void {
  return (err, socket) => {
    if (!socket.writable || (err.code === 'ECONNRESET')) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    socket.end(tooLarge ? HEADERS_TOO_LARGE : BAD_REQUEST);
    onReply(tooLarge ? 431 : 400, err.code ?? 'client error', proxiedAddress(socket) ?? '-');
  };
}

export function pickContext(l: CompiledListener | undefined, servername: string): SecureContext | undefined {
  if (!l || l.secureContexts.length === 0) return undefined;
  const name = servername.toLowerCase();
  for (const c of l.secureContexts) if (c.hostnames.includes(name)) return c.context;
  for (const c of l.secureContexts) if (c.hostnames.some((h) => hostnameMatches(h, name))) return c.context;
  return l.secureContexts[0].context;
}

export async function openListener(protocol: IRListener['protocol'], opts: ListenerOptions): Promise<ListenerServer> {
  const sessions = new Set<http2.ServerHttp2Session>();
  const onClientError = clientErrorHandler(opts.onClientReply);
  let server: http.Server | http2.Http2SecureServer;
  let sessionIds: { clear(): void } | undefined;
  if (protocol === 'HTTP') {
    // joinDuplicateHeaders: a repeated header is never silently reduced to its first
    // value (a second Host or Authorization is seen, and refused, not ignored).
    const s = http.createServer({ maxHeaderSize: opts.maxHeaderBytes, keepAliveTimeout: 15_000, requestTimeout: 300_000, joinDuplicateHeaders: true }, opts.onRequest as http.RequestListener);
    s.on('clientError', onClientError);
    s.on('checkContinue', deferContinue(opts.onRequest) as http.RequestListener);
    // Clear-text HTTP/2 (prior knowledge) on the same port: gRPC clients without TLS (h2c.ts).
    serveH2c(s, { maxHeaderBytes: opts.maxHeaderBytes, sessions });
    server = s;
  } else {
    const s = http2.createSecureServer({
      allowHTTP1: true,
      maxHeaderSize: opts.maxHeaderBytes,
      settings: { maxHeaderListSize: opts.maxHeaderBytes },
      SNICallback: (servername, cb) => cb(null, pickContext(opts.current(), servername)),
      // A default context so that clients without SNI are served the default certificate.
      ...defaultTlsOptions(opts.current()),
    } as http2.SecureServerOptions, opts.onRequest as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
    s.on('session', (session) => {
      openConnectionWindow(session, opts.current()?.ir.http2);
      sessions.add(session);
      session.on('close', () => sessions.delete(session));
      session.on('error', () => {});
    });
    // The client certificate checks OpenSSL does not make, before any request is read (peer-check.ts).
    s.on('secureConnection', (socket: TLSSocket) => checkPeer(opts.current()?.peerCheck, socket));
    sessionIds = serveSessionIds(s, () => opts.current()?.ir.tls?.resumption?.stateful === true);
    // A handshake that failed or timed out: the socket goes, it is never answered in plain text.
    s.on('tlsClientError', (_err, socket) => socket.destroy());
    (s as unknown as http.Server).on('clientError', onClientError);
    // Both h2 streams and HTTP/1.1 requests on this server come through here.
    s.on('checkContinue', deferContinue(opts.onRequest) as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
    server = s;
  }
  // ClientTrafficPolicy tls.fingerprints: the ClientHello is peeked before TLS reads it (after any PROXY header).
  if (protocol === 'HTTPS') acceptFingerprints(server, () => opts.current()?.ir.tls?.fingerprints);
  // ClientTrafficPolicy proxyProtocol: the header comes before TLS and h2c, within the bounds (counted, and timed from accept).
  acceptProxyProtocol(server, {
    settings: () => opts.current()?.ir.proxyProtocol,
    tls: protocol === 'HTTPS',
    onRefused: opts.onRefusedConnection,
  });
  const bounds = boundConnections(server, () => opts.current()?.ir.connection);
  await new Promise<void>((resolve, reject) => {
    // A port that cannot be opened is the caller's error to report (one line), not a logged stack.
    const fail = (err: Error) => {
      bounds.stop();
      reject(new Error(`cannot listen on ${opts.host}:${opts.port}: ${socketReason(err)}`, { cause: err }));
    };
    server.once('error', fail);
    server.listen({ host: opts.host, port: opts.port, reusePort: opts.reusePort, exclusive: opts.reusePort }, () => {
      server.off('error', fail);
      server.on('error', opts.onError);
      resolve();
    });
  });
  const hooks: ListenerHooks = {};
  const handle: ListenerServer = {
    port: opts.port,
    protocol,
    maxHeaderBytes: opts.maxHeaderBytes,
    server,
    updateTls(l) {
      applyListenerHooks(server, hooks, l.ir);
      if (protocol !== 'HTTPS') return;
      // The default certificate (clients that send no SNI) follows the snapshot too.
      const defaults = defaultTlsOptions(l);
      if (defaults.cert) (server as http2.Http2SecureServer).setSecureContext(defaults);
      if (defaults.ticketKeys) (server as http2.Http2SecureServer).setTicketKeys(defaults.ticketKeys);
      // Sessions of an earlier snapshot may have been validated otherwise: none resumes.
      sessionIds?.clear();
      const cv = l.ir.tls?.clientValidation;
      const s = server as unknown as { requestCert: boolean; rejectUnauthorized: boolean; ALPNProtocols: Buffer };
      s.requestCert = cv !== undefined;
      s.rejectUnauthorized = cv?.mode === 'REQUIRE';
      // ClientTrafficPolicy tls.alpnProtocols: what the next handshakes offer (Node reads it per connection).
      if (l.ir.tls) s.ALPNProtocols = alpnWire(l.ir.tls.alpn);
      applyHttp2Settings(server as http2.Http2SecureServer, l.ir.http2);
    },
    async close(deadlineMs) {
      bounds.stop();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      if ('closeIdleConnections' in server) server.closeIdleConnections();
      for (const s of sessions) s.close();
      const timer = setTimeout(() => {
        if ('closeAllConnections' in server) server.closeAllConnections();
        for (const s of sessions) s.destroy();
      }, deadlineMs);
      await closed;
      clearTimeout(timer);
    },
  };
  const l = opts.current();
  if (l) handle.updateTls(l);
  return handle;
}

function defaultTlsOptions(l: CompiledListener | undefined): { cert?: string; key?: string; ca?: string; crl?: string[]; secureOptions?: number; ticketKeys?: Buffer } {
  const c = l?.ir.tls?.certificates[0];
  if (!l || !c) return {};
  const cv = l.ir.tls?.clientValidation;
  const ticketKeys = ticketKeysFor(l.ir);
  // The protocol bounds, algorithms and resumption are the context's the handshake starts with (an SNI switch keeps them).
  return { cert: c.certPem, key: c.keyPem, ca: cv?.caPem, crl: cv?.crlPems, ...l.ir.tls?.params, ...resumptionOptions(l.ir), ...(ticketKeys ? { ticketKeys } : {}) };
}

/** ALPN protocol names in their wire form (length-prefixed). */
function alpnWire(names: string[]): Buffer {
  return Buffer.concat(names.map((n) => Buffer.concat([Buffer.from([n.length]), Buffer.from(n, 'latin1')])));
}
