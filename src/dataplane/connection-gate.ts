// A step in front of a server's own connection listeners (the HTTP parser,
// TLS): h2c.ts (HTTP/1 or h2 by the first bytes), connection-bounds.ts
// (connectionLimit), proxy-protocol.ts (the PROXY header) and
// tls-fingerprint.ts (the ClientHello peek) each take a socket first and let
// it through, or not. Each
// is put in front of the listeners attached when it is called, so the last one
// called sees a connection first.
import type { Server, Socket } from 'node:net';

/** The server's connection listeners as they are now; `gate` calls `handOn(socket)` to give them the socket. */
export function gateConnections(server: Server, gate: (socket: Socket, handOn: (socket: Socket) => void) => void): void {
  const inner = server.listeners('connection') as ((s: Socket) => void)[];
  server.removeAllListeners('connection');
  const handOn = (socket: Socket): void => {
    for (let i = 0; i < inner.length; i++) inner[i].call(server, socket);
  };
  server.on('connection', (socket: Socket) => gate(socket, handOn));
}
