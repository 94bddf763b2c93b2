// Bounds on connections that hold a socket without asking for anything:
// - from accept to the first complete request head (TCP, the TLS handshake and
//   the head itself: a stalled ClientHello, a handshake that never finishes, an
//   HTTP/1 head sent a byte at a time, an h2 connection that never opens a
//   stream) at most requestHeadersTimeoutMs;
// - an HTTP/1.1 keep-alive connection between requests: its next head must be
//   complete within idleTimeoutMs + requestHeadersTimeoutMs of the last answer
//   (Node closes the truly idle ones at keepAliveTimeout = idleTimeoutMs);
// - an HTTP/2 session with no stream open for idleTimeoutMs gets a GOAWAY and
//   is closed (a stream whose HEADERS never complete is not open to us, so a
//   stalled CONTINUATION is bounded the same way).
// Node's own timers do not cover these: handshakeTimeout is per TLS socket
// inactivity, headersTimeout is not applied to HTTP/1 over an HTTP/2 secure
// server, and an h2 session has no idle bound at all.
//
// ClientTrafficPolicy adds two more, with Envoy Gateway's meaning:
// - timeout.http.requestReceivedTimeout: a request whose last byte has not
//   arrived within it, and whose answer has not begun, is answered 408 and its
//   connection (HTTP/1) or stream (HTTP/2) closed;
// - connection.connectionLimit: beyond `max` open connections on this socket a
//   new one is closed (after closeDelay), before TLS or HTTP see a byte of it.
//
// One sweep per server (not one timer per connection), reading the bounds of
// the current snapshot each time, so ClientTrafficPolicy changes apply to open
// connections without reopening the port.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, Http2ServerResponse, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import { constants as h2 } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IRConnection } from '../ir/types.ts';
import { gateConnections } from './connection-gate.ts';

const kEntry = Symbol('portcullis.connectionBounds');

/** A GOAWAY'd session still open after this is destroyed. */
const GOAWAY_GRACE_MS = 1000;

interface Entry {
  /** The accepted socket, then the TLS socket that wraps it (destroying the raw one would not close it). */
  socket: Socket;
  session: ServerHttp2Session | undefined;
  /** Requests (HTTP/1) or streams (HTTP/2) in flight. */
  busy: number;
  /** A complete request head was seen on this connection. */
  served: boolean;
  /** performance.now() when the connection was accepted or last went idle. */
  since: number;
  /** performance.now() of the GOAWAY, when one was sent. */
  closingSince: number;
  /** One per connection (not per request): a request or stream ended. */
  done: () => void;
}

type Tagged = { [kEntry]?: Entry };

export interface ConnectionBounds {
  stop(): void;
}

function entryOf(socket: unknown): Entry | undefined {
  return (socket as Tagged | null | undefined)?.[kEntry];
}

/** Sweep period: a quarter of the shortest bound, within 50 ms – 1 s. */
function periodFor(s: IRConnection): number {
  const shortest = Math.min(s.requestHeadersTimeoutMs, s.idleTimeoutMs, s.requestReceivedTimeoutMs || Infinity);
  return Math.max(50, Math.min(1000, Math.floor(shortest / 4)));
}

/** A request still being received (requestReceivedTimeout), from its head on. */
interface Receiving {
  req: IncomingMessage | Http2ServerRequest;
  res: ServerResponse | Http2ServerResponse;
  since: number;
}

/** The request's last byte arrived: HTTP/1 by the parser; HTTP/2 when the stream's end was received (read or not). */
function received(req: IncomingMessage | Http2ServerRequest): boolean {
  if (req.httpVersionMajor !== 2) return (req as IncomingMessage).complete;
  const stream = (req as Http2ServerRequest).stream as ServerHttp2Stream & { _readableState?: { ended: boolean } };
  return stream.endAfterHeaders || stream.readableEnded || stream._readableState?.ended === true || stream.destroyed;
}

/**
 * Envoy's answer to a request that ran out of time (body "request timeout" or
 * "stream timeout"): 408, then the connection (HTTP/1) or the stream (HTTP/2)
 * closed; an answer already begun is cut instead.
 */
function timedOut(req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse, body: string): void {
  if (res.destroyed || res.writableEnded) return;
  if (res.headersSent) {
    if (req.httpVersionMajor === 2) (req as Http2ServerRequest).stream.close(h2.NGHTTP2_CANCEL);
    else (res as ServerResponse).destroy();
    return;
  }
  const headers: Record<string, string | number> = { 'content-type': 'text/plain', 'content-length': body.length };
  if (req.httpVersionMajor !== 2) {
    headers.connection = 'close';
    (res as ServerResponse).writeHead(408, headers).end(body);
    return;
  }
  const stream = (req as Http2ServerRequest).stream;
  (res as Http2ServerResponse).writeHead(408, headers as Record<string, string>);
  // The client may still be sending: the stream is reset once the answer is out (RFC 9113 §8.1).
  res.end(body, () => {
    if (!stream.destroyed) stream.close(h2.NGHTTP2_NO_ERROR);
  });
}

/** `settings` reads the current snapshot's listener (undefined before one is served: nothing is swept then). */
export function boundConnections(server: HttpServer | Http2SecureServer, settings: () => IRConnection | undefined): ConnectionBounds {
  const open = new Set<Entry>();
  const receiving = new Set<Receiving>();
  const keepAlive = server as { keepAliveTimeout: number };

  const track = (raw: Socket): void => {
    const e: Entry = {
      socket: raw,
      session: undefined,
      busy: 0,
      served: false,
      since: performance.now(),
      closingSince: -1,
      done: () => {
        if (--e.busy === 0) e.since = performance.now();
      },
    };
    (raw as Tagged)[kEntry] = e;
    open.add(e);
    raw.once('close', () => {
      if (e.socket === raw) open.delete(e);
    });
  };
  // connectionLimit: the server's own connection listeners (HTTP parser, TLS) run
  // only for the connections within the limit; the others are never read.
  gateConnections(server, (raw, handOn) => {
    const limit = settings()?.connectionLimit;
    if (limit !== undefined && open.size >= limit.max) {
      raw.pause();
      if (limit.closeDelayMs > 0) setTimeout(() => raw.destroy(), limit.closeDelayMs).unref();
      else raw.destroy();
      return;
    }
    track(raw);
    handOn(raw);
  });
  // A TLS socket wraps the raw one; requests and sessions see the TLS socket.
  server.prependListener('secureConnection', (tls: TLSSocket) => {
    const e = entryOf((tls as TLSSocket & { _parent?: Socket })._parent);
    if (e === undefined) return;
    (tls as Tagged)[kEntry] = e;
    e.socket = tls;
    tls.once('close', () => open.delete(e));
  });
  const onRequest = (req: IncomingMessage | Http2ServerRequest, res: ServerResponse | Http2ServerResponse): void => {
    const s = settings();
    if (s !== undefined) {
      // Node arms keep-alive at the answer's end: this request's connection gets the current bound, not the last sweep's.
      if (keepAlive.keepAliveTimeout !== s.idleTimeoutMs) keepAlive.keepAliveTimeout = s.idleTimeoutMs;
      const rr = s.requestReceivedTimeoutMs;
      if (rr !== undefined && rr > 0 && !received(req)) receiving.add({ req, res, since: performance.now() });
      // Node's own inactivity timer: the socket's for HTTP/1 (one request at a time; keep-alive re-arms it after the
      // answer), the stream's for HTTP/2. A listener on the response keeps Node from destroying the socket itself.
      const si = s.streamIdleTimeoutMs;
      if (si !== undefined && si > 0) res.setTimeout(si, () => timedOut(req, res, 'stream timeout'));
    }
    if (req.httpVersionMajor === 2) return; // counted per stream below
    const e = entryOf(req.socket);
    if (e === undefined) return;
    e.busy++;
    e.served = true;
    // on, not once: a response closes once, and once() would build a wrapper (and remove it again) per request.
    res.on('close', e.done);
  };
  // An `Expect: 100-continue` request arrives through 'checkContinue' instead of 'request' (expect.ts): bounded the same.
  server.prependListener('request', onRequest);
  server.prependListener('checkContinue', onRequest);
  server.on('session', (session: ServerHttp2Session) => {
    // session.socket is a proxy; reading a property reaches the TLS socket.
    const e = entryOf(session.socket);
    if (e === undefined) return;
    e.session = session;
    session.on('stream', (stream: ServerHttp2Stream) => {
      e.busy++;
      e.served = true;
      stream.on('close', e.done);
    });
  });

  let timer: NodeJS.Timeout | undefined;
  const sweep = (): void => {
    const s = settings();
    if (s === undefined) {
      timer = setTimeout(sweep, 1000);
      timer.unref();
      return;
    }
    // HTTP/1.1 keep-alive: Node closes an idle connection itself, at our idle bound.
    if (keepAlive.keepAliveTimeout !== s.idleTimeoutMs) keepAlive.keepAliveTimeout = s.idleTimeoutMs;
    const now = performance.now();
    const rr = s.requestReceivedTimeoutMs ?? 0;
    for (const r of receiving) {
      if (r.res.headersSent || r.res.destroyed || received(r.req)) receiving.delete(r);
      else if (rr > 0 && now - r.since > rr) {
        receiving.delete(r);
        timedOut(r.req, r.res, 'request timeout');
      }
    }
    for (const e of open) {
      if (e.closingSince >= 0) {
        if (now - e.closingSince > GOAWAY_GRACE_MS) e.socket.destroy();
        continue;
      }
      if (e.busy > 0) continue;
      const idle = now - e.since;
      if (!e.served) {
        // No request yet is also no active request: the idle bound holds too (Envoy's idle_timeout).
        if (idle > s.requestHeadersTimeoutMs || idle > s.idleTimeoutMs) e.socket.destroy();
      } else if (e.session !== undefined) {
        if (idle > s.idleTimeoutMs) {
          e.closingSince = now;
          e.session.close();
        }
      } else if (idle > s.idleTimeoutMs + s.requestHeadersTimeoutMs) {
        e.socket.destroy();
      }
    }
    timer = setTimeout(sweep, periodFor(s));
    timer.unref();
  };
  timer = setTimeout(sweep, 50);
  timer.unref();
  return {
    stop() {
      clearTimeout(timer);
      timer = undefined;
    },
  };
}
