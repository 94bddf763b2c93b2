// Raw sockets: waiting for the gateway to close one, writing slowly, reading a raw HTTP/1.1 answer, the kernel's timers on one.
import { readFile } from 'node:fs/promises';
import net from 'node:net';

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

export interface TcpTimer {
  /** /proc/net/tcp's timer kind: 0 none, 1 retransmit, 2 keepalive, 3 TIME_WAIT, 4 zero-window probe. */
  kind: number;
  /** Seconds until it fires (the kernel counts in USER_HZ ticks, 10 ms). */
  seconds: number;
}

const hexPort = (p: number): string => `:${p.toString(16).toUpperCase().padStart(4, '0')}`;

/**
 * The kernel's timer on this host's established connection from local port
 * `localPort` to peer port `peerPort` (read from /proc/net/tcp and tcp6, the
 * same table `ss -o` prints); fails when there is no such connection.
 */
export async function tcpTimer(localPort: number, peerPort: number): Promise<TcpTimer> {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    for (const line of (await readFile(table, 'latin1')).split('\n')) {
      // sl local_address rem_address st tx_queue:rx_queue tr:tm->when ...
      const c = line.trim().split(/\s+/);
      if (c[3] !== '01' || !c[1]?.endsWith(hexPort(localPort)) || !c[2]?.endsWith(hexPort(peerPort))) continue;
      const [kind, when] = c[5].split(':');
      return { kind: parseInt(kind, 16), seconds: parseInt(when, 16) / 100 };
    }
  }
  throw new Error(`no established connection from port ${localPort} to port ${peerPort}`);
}

/**
 * A raw connection to 127.0.0.1:`port` writing `chunks` one after the other,
 * `gapMs` apart (separate packets); everything it received (latin1) until the
 * gateway closed it.
 */
export function rawExchange(port: number, chunks: readonly (string | Buffer)[], gapMs = 0): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', reject);
    socket.on('close', () => resolve(text));
    socket.once('connect', async () => {
      for (const c of chunks) {
        socket.write(c);
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));
      }
    });
  });
}
