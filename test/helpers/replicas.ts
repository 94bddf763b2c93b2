// Upstream replicas that fail on command, for load-balancing and health tests:
// each answers "<name>" with x-replica, or 503, or holds requests until let go,
// has a /healthz whose status the test sets, and can stop listening (its port
// then refuses connections) and start again on the same port.
import http from 'node:http';
import type { AddressInfo } from 'node:net';

export type ReplicaMode = 'ok' | '503' | 'hold';

export interface Replica {
  name: string;
  port: number;
  mode: ReplicaMode;
  /** Status /healthz answers. */
  health: number;
  /** Body /healthz answers. */
  healthBody: string;
  /** Requests other than /healthz. */
  hits: number;
  probes: number;
  /** Answer the requests held in mode 'hold'. */
  release(): void;
  /** Requests held right now. */
  held(): number;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startReplica(name: string, mode: ReplicaMode = 'ok'): Promise<Replica> {
  const held: http.ServerResponse[] = [];
  let server: http.Server | undefined;
  const r: Replica = {
    name, port: 0, mode, health: 200, healthBody: 'ok', hits: 0, probes: 0,
    release() {
      for (const res of held.splice(0)) res.writeHead(200, { 'x-replica': name }).end(name);
    },
    held: () => held.length,
    async stop() {
      const s = server;
      server = undefined;
      if (!s) return;
      r.release();
      await new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      });
    },
    async start() {
      const s = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          if (req.url === '/healthz') {
            r.probes++;
            res.writeHead(r.health, { 'content-type': 'text/plain' }).end(r.healthBody);
            return;
          }
          r.hits++;
          if (r.mode === '503') res.writeHead(503, { 'x-replica': name }).end(`${name} 503`);
          else if (r.mode === 'hold') held.push(res);
          else res.writeHead(200, { 'x-replica': name }).end(name);
        });
      });
      await new Promise<void>((resolve) => s.listen(r.port, '127.0.0.1', () => resolve()));
      r.port = (s.address() as AddressInfo).port;
      server = s;
    },
    close: () => r.stop(),
  };
  await r.start();
  return r;
}
