// The admin listener: health, readiness, Prometheus metrics, and the running
// configuration with every resource's status. Served once per instance.
import type { Finding } from '../analyze/finding.ts';
import http from 'node:http';
import { createDualServer } from './listener.ts';
import type { Snapshot } from '../ir/types.ts';
import { redactSnapshot } from './redact.ts';

export interface ReloadReport {
  ok: boolean;
  at: string;
  version?: string;
  errors: string[];
  /** Policies rejected on their own while the snapshot serves (their hops fail closed). */
  policyErrors: string[];
  /** What `portcullis analyze` finds in the configuration (src/analyze). */
  findings?: Finding[];
}

export interface AdminState {
  ready(): boolean;
  snapshot(): Snapshot | undefined;
  lastReload(): ReloadReport | undefined;
  metrics(): Promise<{ contentType: string; body: string }>;
  /** The management API (src/admin/api), when enabled: its paths, and who may read /config. */
  routes?: AdminRoutes;
  /** TLS for the admin listener (PEM), on the same port as plain HTTP; with `ca`, client certificates are asked for and verified. */
  tls?: { cert: string; key: string; ca?: string };
}

export interface AdminRoutes {
  owns(path: string): boolean;
  handle(req: http.IncomingMessage, res: http.ServerResponse): void;
  allowRead(req: http.IncomingMessage, res: http.ServerResponse): boolean;
}

export async function startAdmin(host: string, port: number, state: AdminState): Promise<http.Server> {
  const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (state.routes?.owns(path)) return state.routes.handle(req, res);
    if (state.routes && path.startsWith('/config') && !state.routes.allowRead(req, res)) return;
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
  };
  // The dual server has the surface the callers use (listen, close, closeAllConnections, address).
  const server: http.Server = state.tls
    ? (createDualServer({ cert: state.tls.cert, key: state.tls.key, ca: state.tls.ca, requestCert: state.tls.ca !== undefined, rejectUnauthorized: false }, handler) as unknown as http.Server)
    : http.createServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}
