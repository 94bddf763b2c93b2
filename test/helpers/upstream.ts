// A real upstream for the tests: it answers JSON describing what it received,
// and misbehaves on request (/delay/MS, /reset, /status/N, /close-early);
// /trailers answers chunked, with trailer x-upstream-trailer: <name>; /case
// answers X-Mixed-Case: yes (that case) and echoes the names as received (rawNames);
// /trailers-only is a gRPC Trailers-Only answer (grpc-status 5 in the headers, no body).
// /drip/N/MS answers N one-byte chunks MS apart.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';

export interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export interface Upstream {
  name: string;
  port: number;
  seen: Seen[];
  close(): Promise<void>;
}

export async function startUpstream(name: string): Promise<Upstream> {
  const seen: Seen[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const path = req.url!.split('?')[0];
      const m = /\/(delay|status)\/(\d+)/.exec(path);
      if (path.endsWith('/reset')) {
        req.socket.destroy();
        return;
      }
      if (path.endsWith('/trailers-only')) return void res.writeHead(200, { 'content-type': 'application/grpc', 'grpc-status': '5' }).end();
      const drip = /\/drip\/(\d+)\/(\d+)/.exec(path);
      if (drip) {
        res.writeHead(200, { 'content-type': 'text/plain', 'x-backend': name });
        let left = Number(drip[1]);
        const next = (): void => {
          if (left-- === 0) return void res.end();
          res.write('.');
          setTimeout(next, Number(drip[2]));
        };
        next();
        return;
      }
      const answer = () => {
        const status = m?.[1] === 'status' ? Number(m[2]) : 200;
        res.writeHead(status, {
          'content-type': 'application/json',
          'x-backend': name,
          // hop-by-hop headers an upstream may send; the gateway must not pass them on
          connection: 'keep-alive, x-upstream-hop',
          'x-upstream-hop': 'secret',
          'keep-alive': 'timeout=60',
          ...(path.endsWith('/case') ? { 'X-Mixed-Case': 'yes' } : {}),
        });
        const rawNames = path.endsWith('/case') ? req.rawHeaders.filter((_, i) => i % 2 === 0) : undefined;
        const echo = JSON.stringify({ backend: name, method: req.method, url: req.url, headers: req.headers, body, rawNames });
        if (!path.endsWith('/trailers')) return void res.end(echo);
        // Written before end: chunked, so the trailer is sent.
        res.write(echo);
        res.addTrailers({ 'x-upstream-trailer': name });
        res.end();
      };
      if (m?.[1] === 'delay') setTimeout(answer, Number(m[2]));
      else answer();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    name,
    port: (server.address() as AddressInfo).port,
    seen,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

/** A request body as its sha256 and size, read without keeping it (for large-body tests). */
export function hashBody(req: http.IncomingMessage): Promise<{ hash: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const h = createHash('sha256');
    let bytes = 0;
    req.on('data', (c: Buffer) => {
      h.update(c);
      bytes += c.length;
    });
    req.on('end', () => resolve({ hash: h.digest('hex'), bytes }));
    req.on('error', reject);
  });
}
