// Raw sockets: waiting for the gateway to close one, writing slowly, reading a raw HTTP/1.1 answer.
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

/** Write `text` one byte every 200 ms while the socket lives: activity that resets inactivity timers. */
export function trickle(s: net.Socket, text: string): void {
  let i = 0;
  const t = setInterval(() => {
    if (s.destroyed || i >= text.length) return clearInterval(t);
    s.write(text[i++]);
  }, 200);
  s.on('close', () => clearInterval(t));
}

/** A chunked HTTP/1.1 body (as received on a raw socket) without its framing. */
export function dechunk(body: string): string {
  let out = '';
  for (let i = 0; ;) {
    const nl = body.indexOf('\r\n', i);
    const size = parseInt(body.slice(i, nl), 16);
    if (!(size > 0)) return out;
    out += body.slice(nl + 2, nl + 2 + size);
    i = nl + 2 + size + 2;
  }
}
