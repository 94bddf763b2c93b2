// The admin listener: health, readiness, Prometheus metrics, and the running
// configuration with every resource's status. Served once per instance.
import http from 'node:http';
import type { Snapshot } from '../ir/types.ts';
import { redactSnapshot } from './redact.ts';

export interface ReloadReport {
  ok: boolean;
  at: string;
  version?: string;
  errors: string[];
  /** Policies rejected on their own while the snapshot serves (their hops fail closed). */
  policyErrors: string[];
}

export interface AdminState {
  ready(): boolean;
  snapshot(): Snapshot | undefined;
  lastReload(): ReloadReport | undefined;
  metrics(): Promise<{ contentType: string; body: string }>;
}

export async function startAdmin(host: string, port: number, state: AdminState): Promise<http.Server> {
  const server = http.createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const send = (status: number, type: string, body: string) => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
      res.end(body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'text/plain', 'method not allowed\n');
    switch (path) {
      case '/healthz':
        return send(200, 'text/plain', 'ok\n');
      case '/readyz':
        return state.ready() ? send(200, 'text/plain', 'ready\n') : send(503, 'text/plain', 'not ready\n');
      case '/metrics':
        state.metrics().then(
          (m) => send(200, m.contentType, m.body),
          (err) => send(500, 'text/plain', `metrics unavailable: ${(err as Error).message}\n`),
        );
        return;
      case '/config/version': {
        // What a poller needs, without serializing the whole snapshot.
        const snap = state.snapshot();
        const last = state.lastReload();
        return send(200, 'application/json', JSON.stringify({ version: snap?.version ?? null, lastReload: last ? { ok: last.ok, at: last.at, version: last.version ?? null } : null }) + '\n');
      }
      case '/config': {
        const snap = state.snapshot();
        const body = { ...(snap ? redactSnapshot(snap) : { version: null }), lastReload: state.lastReload() ?? null };
        return send(200, 'application/json', JSON.stringify(body, null, 2) + '\n');
      }
      default:
        return send(404, 'text/plain', 'not found: try /healthz /readyz /metrics /config /config/version\n');
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
