// One admin port for both plain HTTP and HTTPS: the first byte of a
// connection says which (0x16 starts a TLS handshake). curl keeps reading
// /healthz and /metrics over http://, while kubectl — which sends a bearer
// token or a client certificate only over TLS — uses https:// on the same port.
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';

export interface DualServer extends net.Server {
  closeAllConnections(): void;
}

export function createDualServer(tls: https.ServerOptions, handler: http.RequestListener): DualServer {
  const plain = http.createServer(handler);
  const secure = https.createServer(tls, handler);
  const waiting = new Set<net.Socket>();
  const server = net.createServer((socket) => {
    waiting.add(socket);
    socket.once('close', () => waiting.delete(socket));
    // A connection that never sends a byte is dropped instead of holding a slot forever.
    socket.setTimeout(10_000, () => socket.destroy());
    socket.once('data', (first: Buffer) => {
      waiting.delete(socket);
      socket.setTimeout(0);
      socket.pause();
      socket.unshift(first);
      (first[0] === 0x16 ? secure : plain).emit('connection', socket);
      process.nextTick(() => socket.resume());
    });
    socket.on('error', () => socket.destroy());
  }) as DualServer;
  secure.on('tlsClientError', (_err, socket) => socket.destroy());
  server.closeAllConnections = () => {
    for (const s of waiting) s.destroy();
    plain.closeAllConnections();
    secure.closeAllConnections();
  };
  return server;
}
