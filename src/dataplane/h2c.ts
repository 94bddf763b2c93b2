// HTTP/2 by prior knowledge (h2c, RFC 9113 §3.3) on a clear-text listener,
// alongside HTTP/1.1 on the same port: clear-text gRPC clients open with the
// HTTP/2 connection preface, everyone else with an HTTP/1.1 request line.
//
// Each accepted connection's first bytes are read until they either differ
// from the preface (HTTP/1.1: almost always the first byte) or are the whole
// 24-byte preface (HTTP/2); they are then put back (unshift) and the socket is
// handed to the HTTP/1.1 server's own connection listener or to an HTTP/2
// server. The HTTP/2 server is not listening itself: its sessions and requests
// are re-emitted on the HTTP/1.1 server, so that everything attached there —
// connection bounds (connection-bounds.ts: head timeout, idle GOAWAY,
// connectionLimit, requestReceivedTimeout), the request listener, Expect
// handling — serves both protocols alike. A connection that sends neither is
// closed by the request-head bound like any other that sends nothing.
// The cost is per connection (one extra read before the parser), never per request.
import type http from 'node:http';
import http2 from 'node:http2';
import { gateConnections } from './connection-gate.ts';

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');

export interface H2cOptions {
  maxHeaderBytes: number;
  /** Every h2c session, for the listener's close (GOAWAY, then destroy past the deadline). */
  sessions: Set<http2.ServerHttp2Session>;
}

/** Where the bytes read so far say the connection goes: 'h1', 'h2', or undefined (too few bytes yet). */
export function sniff(head: Buffer): 'h1' | 'h2' | undefined {
  const n = Math.min(head.length, PREFACE.length);
  for (let i = 0; i < n; i++) if (head[i] !== PREFACE[i]) return 'h1';
  return n === PREFACE.length ? 'h2' : undefined;
}

/** Serve h2c on `server` too; call before anything else wraps its 'connection' listeners. */
export function serveH2c(server: http.Server, opts: H2cOptions): http2.Http2Server {
  const h2c = http2.createServer({
    maxHeaderSize: opts.maxHeaderBytes,
    settings: { maxHeaderListSize: opts.maxHeaderBytes },
  } as http2.ServerOptions);
  h2c.on('session', (session) => {
    opts.sessions.add(session);
    session.on('close', () => opts.sessions.delete(session));
    session.on('error', () => {});
    server.emit('session', session);
  });
  h2c.on('request', (req, res) => server.emit('request', req, res));
  h2c.on('checkContinue', (req, res) => {
    // The HTTP/1.1 server's Expect handling (expect.ts) serves h2 streams as it does on HTTPS listeners.
    if (server.listenerCount('checkContinue') > 0) server.emit('checkContinue', req, res);
    else server.emit('request', req, res);
  });
  gateConnections(server, (socket, toHttp1) => {
    let head: Buffer | undefined;
    // Until a server owns the socket, a reset is this code's to handle (unhandled, it would throw).
    const onError = (): void => void socket.destroy();
    const onData = (chunk: Buffer): void => {
      head = head === undefined ? chunk : Buffer.concat([head, chunk]);
      const proto = sniff(head);
      if (proto === undefined) return;
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      socket.unshift(head);
      if (proto === 'h2') {
        // The session reads what was put back itself (Node: "socket already has some buffered data").
        h2c.emit('connection', socket);
        return;
      }
      toHttp1(socket);
      socket.resume();
    };
    socket.on('error', onError);
    socket.on('data', onData);
  });
  return h2c;
}
