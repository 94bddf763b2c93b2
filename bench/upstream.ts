// The upstream every scenario proxies to: a minimal node:http server that
// answers 200 with a small fixed body naming itself, so a correctness check can
// tell which backend (and so which route) answered.
//
//   node bench/upstream.ts target other   → one port per name, in this one process
// Prints one line `{"ready":true,"ports":{"target":N,"other":M}}` once listening.
import { createServer, type Server } from 'node:http';
import { exitWithParent } from './lifeline.ts';

export const UPSTREAM_HEADER = 'x-upstream';

export function upstreamBody(name: string): string {
  return `hello from ${name}\n`;
}

function serve(name: string): Promise<{ server: Server; port: number }> {
  const body = Buffer.from(upstreamBody(name));
  const headers = {
    'content-type': 'text/plain',
    'content-length': String(body.length),
    [UPSTREAM_HEADER]: name,
  };
  const server = createServer((req, res) => {
    req.resume();
    res.writeHead(200, headers);
    res.end(body);
  });
  // Longer than any proxy's pooled keep-alive, so no proxy (nginx does not read
  // the Keep-Alive hint) ever reuses a connection this side is closing.
  server.keepAliveTimeout = 120_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      if (typeof addr === 'object' && addr) resolve({ server, port: addr.port });
      else reject(new Error('no address'));
    });
  });
}

if (import.meta.main) {
  const names = process.argv.slice(2);
  if (names.length === 0) {
    process.stderr.write('usage: node bench/upstream.ts NAME [NAME...]\n');
    process.exit(2);
  }
  exitWithParent();
  const ports: Record<string, number> = {};
  for (const name of names) ports[name] = (await serve(name)).port;
  process.stdout.write(JSON.stringify({ ready: true, ports }) + '\n');
}
