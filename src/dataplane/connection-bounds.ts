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
// One sweep per server (not one timer per connection), reading the bounds of
// the current snapshot each time, so ClientTrafficPolicy changes apply to open
// connections without reopening the port.
import type { Server as HttpServer, IncomingMessage, ServerResponse } from 'node:http';
import type { Http2SecureServer, Http2ServerRequest, ServerHttp2Session, ServerHttp2Stream } from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IRConnection } from '../ir/types.ts';

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
  return Math.max(50, Math.min(1000, Math.floor(Math.min(s.requestHeadersTimeoutMs, s.idleTimeoutMs) / 4)));
}

/** `settings` reads the current snapshot's listener (undefined before one is served: nothing is swept then). */
export function boundConnections(server: HttpServer | Http2SecureServer, settings: () => IRConnection | undefined): ConnectionBounds {
  const open = new Set<Entry>();

  server.on('connection', (raw: Socket) => {
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
  });
  // A TLS socket wraps the raw one; requests and sessions see the TLS socket.
  server.prependListener('secureConnection', (tls: TLSSocket) => {
    const e = entryOf((tls as TLSSocket & { _parent?: Socket })._parent);
    if (e === undefined) return;
    (tls as Tagged)[kEntry] = e;
    e.socket = tls;
    tls.once('close', () => open.delete(e));
  });
  server.prependListener('request', (req: IncomingMessage | Http2ServerRequest, res: ServerResponse) => {
    if (req.httpVersionMajor === 2) return; // counted per stream below
    const e = entryOf(req.socket);
    if (e === undefined) return;
    e.busy++;
    e.served = true;
    res.once('close', e.done);
  });
  server.on('session', (session: ServerHttp2Session) => {
    // session.socket is a proxy; reading a property reaches the TLS socket.
    const e = entryOf(session.socket);
    if (e === undefined) return;
    e.session = session;
    session.on('stream', (stream: ServerHttp2Stream) => {
      e.busy++;
      e.served = true;
      stream.once('close', e.done);
    });
  });

  let timer: NodeJS.Timeout | undefined;
  const keepAlive = server as { keepAliveTimeout: number };
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
    for (const e of open) {
      if (e.closingSince >= 0) {
        if (now - e.closingSince > GOAWAY_GRACE_MS) e.socket.destroy();
        continue;
      }
      if (e.busy > 0) continue;
      const idle = now - e.since;
      if (!e.served) {
        if (idle > s.requestHeadersTimeoutMs) e.socket.destroy();
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
