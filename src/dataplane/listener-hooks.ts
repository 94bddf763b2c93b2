// Per-connection and per-request settings a ClientTrafficPolicy gives a
// listener socket, hooked on its server only while the snapshot asks for them
// (a listener without them runs none of this code):
// - tcpKeepalive: SO_KEEPALIVE with idle time, probe interval and probe count
//   on every accepted connection (Node 26's setKeepAlive takes all three);
// - http1.http10.useDefaultHost: an HTTP/1.0 request without Host is given
//   the listener's default host before anything reads its head (as Envoy's
//   default_host_for_http_10), so routing, filters and upstream all see it;
// - tls.alpnProtocols with http/1.0: Node's HTTP/2 server hands a connection
//   to its HTTP/1 handling only when ALPN chose http/1.1 or nothing, and
//   starts an HTTP/2 session on any other protocol. A connection that chose
//   http/1.0 is shown to it as one without ALPN (its HTTP/1 parser serves
//   1.0 and 1.1 alike), and given its protocol back right after.
import type { IncomingMessage } from 'node:http';
import type { Server } from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IRListener } from '../ir/types.ts';

export interface ListenerHooks {
  keepalive?: (socket: Socket) => void;
  http10?: (req: IncomingMessage) => void;
  alpn10?: { before: (socket: TLSSocket) => void; after: (socket: TLSSocket) => void };
}

const HTTP10 = 'http/1.0';
/** Sockets whose ALPN http/1.0 is hidden from Node's HTTP/2 connection listener, until it has run. */
const hidden = new WeakSet<TLSSocket>();
const hide = (socket: TLSSocket): void => {
  if (socket.alpnProtocol !== HTTP10) return;
  hidden.add(socket);
  socket.alpnProtocol = false;
};
const unhide = (socket: TLSSocket): void => {
  if (hidden.delete(socket)) socket.alpnProtocol = HTTP10;
};

/** Replace the hooks of `server` by those `l` asks for (called on every snapshot). */
export function applyListenerHooks(server: Server, hooks: ListenerHooks, l: IRListener): void {
  if (hooks.keepalive) server.off('connection', hooks.keepalive);
  hooks.keepalive = undefined;
  const ka = l.tcpKeepalive;
  if (ka) {
    const { idleMs, intervalMs, probes } = ka;
    hooks.keepalive = (socket) => socket.setKeepAlive(true, idleMs, intervalMs, probes);
    server.on('connection', hooks.keepalive);
  }
  if (hooks.http10) server.off('request', hooks.http10);
  hooks.http10 = undefined;
  const host = l.http10DefaultHost;
  if (host !== undefined) {
    hooks.http10 = (req) => {
      if (req.httpVersionMinor === 0 && req.httpVersionMajor === 1 && req.headers.host === undefined) req.headers.host = host;
    };
    // First: before the request handler reads the head.
    server.prependListener('request', hooks.http10);
  }
  if (hooks.alpn10) {
    server.off('secureConnection', hooks.alpn10.before);
    server.off('secureConnection', hooks.alpn10.after);
  }
  hooks.alpn10 = undefined;
  if (l.tls?.alpn.includes(HTTP10)) {
    hooks.alpn10 = { before: hide, after: unhide };
    // Around Node's own listener, registered when the server was made: before it, and after it.
    server.prependListener('secureConnection', hide);
    server.on('secureConnection', unhide);
  }
}
