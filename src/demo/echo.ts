// The demo backend of the quickstart: answers every request with what it saw,
// as JSON, and says which instance it is (so traffic splits can be watched).
// It also misbehaves on command, as the backend of Envoy Gateway's traffic
// task pages does, so that their curl lines can be tried here:
//   GET /status/500        answers that status (100-599)
//   GET /anything?delay=2s answers after that long (a Gateway API duration, at most 60s)
//   GET /healthz           200 "ok", or the status last set by POST /healthz?status=503
import http from 'node:http';
import { parseDuration } from '../translate/durations.ts';

export interface EchoServer {
  server: http.Server;
  port: number;
  /** Requests answered (every path but /healthz). */
  requests: number;
  /** Status GET /healthz answers (tests set it; POST /healthz?status=N does too). */
  health: number;
  close(): Promise<void>;
}

const STATUS_PATH = /^\/status\/([1-5][0-9][0-9])$/;
const MAX_DELAY_MS = 60_000;

export async function startEcho(name: string, host = '127.0.0.1', port = 0): Promise<EchoServer> {
  const timers = new Set<NodeJS.Timeout>();
  const server = http.createServer((req, res) => {
    let size = 0;
    req.on('data', (c: Buffer) => (size += c.length));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://echo');
      if (url.pathname === '/healthz') return health(req, res, url);
      echo.requests++;
      const status = Number(STATUS_PATH.exec(url.pathname)?.[1] ?? 200);
      const delay = url.searchParams.get('delay');
      const ms = delay === null ? 0 : parseDuration(delay);
      if (ms === undefined || ms > MAX_DELAY_MS) {
        res.writeHead(400, { 'content-type': 'text/plain', 'x-backend': name }).end(`delay must be a duration up to 60s, like 10s or 500ms\n`);
        return;
      }
      const body = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, bodyBytes: size }, null, 2) + '\n';
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(status, { 'content-type': 'application/json', 'x-backend': name });
        res.end(body);
      };
      if (ms === 0) return answer();
      const t = setTimeout(() => {
        timers.delete(t);
        answer();
      }, ms);
      timers.add(t);
    });
  });
  const health = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => {
    if (req.method === 'POST') {
      const s = Number(url.searchParams.get('status'));
      if (!Number.isInteger(s) || s < 100 || s > 599) {
        res.writeHead(400, { 'content-type': 'text/plain' }).end('POST /healthz?status=N with N in 100-599\n');
        return;
      }
      echo.health = s;
    }
    res.writeHead(echo.health, { 'content-type': 'text/plain', 'x-backend': name }).end(echo.health < 400 ? 'ok\n' : 'unhealthy\n');
  };
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const addr = server.address();
  const echo: EchoServer = {
    server,
    port: typeof addr === 'object' && addr ? addr.port : port,
    requests: 0,
    health: 200,
    close: () => new Promise<void>((resolve) => {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
  return echo;
}
