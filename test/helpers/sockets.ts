// Waiting on raw sockets the gateway should close.
import type net from 'node:net';

/** Milliseconds from now until the socket closes (rejects past `limit`). */
export function closedWithin(s: net.Socket, limit: number, what: string): Promise<number> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`${what}: still open after ${limit} ms`));
    }, limit);
    s.on('error', () => {});
    // Read what the server sends (h2 SETTINGS, a TLS alert): a paused socket never sees the FIN.
    s.resume();
    s.once('close', () => {
      clearTimeout(timer);
      resolve(performance.now() - t0);
    });
  });
}
