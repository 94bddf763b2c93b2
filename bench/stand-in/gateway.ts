// A STAND-IN for `portcullis run`, only so the harness could be built and
// checked before the real gateway existed (select it with `--stand-in`; its
// figures are labelled "stand-in", never "portcullis"). It speaks the same CLI
// and admin contract (-f, --workers, --bind, --admin, --watch; /readyz;
// /config {version}) and understands just the YAML the harness generates:
// Gateway port, HTTPRoutes (hostnames, path/header matches,
// ResponseHeaderModifier set), gateway.envoyproxy.io Backends. Routing is a
// naive precedence-sorted scan: it is no model for the real router.
import cluster, { type Worker } from 'node:cluster';
import { createHash } from 'node:crypto';
import { readFileSync, watch } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { basename, dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { parseAllDocuments } from 'yaml';
import { createForwarder, type Forwarder } from '../forward.ts';

interface PlainRoute {
  hostnames: string[];
  path: { type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string };
  headers: { name: string; type: 'Exact' | 'RegularExpression'; value: string }[];
  setHeaders: [string, string][];
  origin: string;
}

interface PlainConfig {
  version: string;
  port: number;
  routes: PlainRoute[];
}

// ---------------------------------------------------------------- config

interface Doc {
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, any>;
}

function loadConfig(files: string[]): PlainConfig {
  const texts = files.map((f) => readFileSync(f, 'utf8'));
  const docs: Doc[] = [];
  for (const text of texts) {
    for (const d of parseAllDocuments(text)) {
      if (d.errors.length > 0) throw new Error(d.errors[0].message);
      const js = d.toJS() as Doc | null;
      if (js) docs.push(js);
    }
  }
  const gateway = docs.find((d) => d.kind === 'Gateway');
  const port = gateway?.spec?.listeners?.[0]?.port;
  if (typeof port !== 'number') throw new Error('no Gateway listener port');
  const origins = new Map<string, string>();
  for (const d of docs) {
    const ip = d.kind === 'Backend' ? d.spec?.endpoints?.[0]?.ip : undefined;
    if (ip) origins.set(d.metadata?.name ?? '', `http://${ip.address}:${ip.port}`);
  }
  const routes: PlainRoute[] = [];
  for (const d of docs) {
    if (d.kind !== 'HTTPRoute') continue;
    for (const rule of d.spec?.rules ?? []) {
      const origin = origins.get(rule.backendRefs?.[0]?.name);
      if (!origin) throw new Error(`HTTPRoute ${d.metadata?.name}: unknown backend`);
      const setHeaders: [string, string][] = [];
      for (const f of rule.filters ?? []) {
        for (const h of f.responseHeaderModifier?.set ?? []) setHeaders.push([h.name, h.value]);
      }
      for (const m of rule.matches ?? [{}]) {
        routes.push({
          hostnames: d.spec?.hostnames ?? [],
          path: { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' },
          headers: (m.headers ?? []).map((h: { name: string; type?: string; value: string }) => ({ name: h.name.toLowerCase(), type: h.type ?? 'Exact', value: h.value })),
          setHeaders,
          origin,
        });
      }
    }
  }
  const version = createHash('sha256').update(texts.join('\0')).digest('hex').slice(0, 16);
  return { version, port, routes };
}

// ---------------------------------------------------------------- worker

interface CompiledRoute {
  hostnames: string[];
  matchPath: (path: string) => boolean;
  headers: { name: string; test: (v: string) => boolean }[];
  setHeaders: [string, string][];
  forwarder: Forwarder;
  rank: [number, number, number];
}

const forwarders = new Map<string, Forwarder>();

function compileRoute(r: PlainRoute, index: number): CompiledRoute {
  const v = r.path.value;
  let matchPath: (p: string) => boolean;
  let rank: [number, number, number];
  if (r.path.type === 'Exact') {
    matchPath = (p) => p === v;
    rank = [0, 0, index];
  } else if (r.path.type === 'PathPrefix') {
    const base = v.endsWith('/') ? v.slice(0, -1) : v;
    matchPath = (p) => base === '' || p === base || p.startsWith(base + '/');
    rank = [1, -base.length, index];
  } else {
    const re = new RegExp(`^(?:${v})$`);
    matchPath = (p) => re.test(p);
    rank = [2, 0, index];
  }
  const headers = r.headers.map((h) => {
    if (h.type === 'Exact') return { name: h.name, test: (x: string) => x === h.value };
    const re = new RegExp(`^(?:${h.value})$`);
    return { name: h.name, test: (x: string) => re.test(x) };
  });
  rank[2] = -headers.length * 1e6 + index;
  let forwarder = forwarders.get(r.origin);
  if (!forwarder) forwarders.set(r.origin, (forwarder = createForwarder(r.origin)));
  return { hostnames: r.hostnames, matchPath, headers, setHeaders: r.setHeaders, forwarder, rank };
}

function compare(a: CompiledRoute, b: CompiledRoute): number {
  for (let i = 0; i < 3; i++) if (a.rank[i] !== b.rank[i]) return a.rank[i] - b.rank[i];
  return 0;
}

function hostMatches(hostnames: string[], host: string): boolean {
  if (hostnames.length === 0) return true;
  for (const h of hostnames) {
    if (h === host || (h.startsWith('*.') && host.endsWith(h.slice(1)))) return true;
  }
  return false;
}

function runWorker(): void {
  let routes: CompiledRoute[] = [];
  let listening = false;
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawHost = req.headers.host ?? '';
    const colon = rawHost.lastIndexOf(':');
    const host = (colon > 0 ? rawHost.slice(0, colon) : rawHost).toLowerCase();
    for (const r of routes) {
      if (!hostMatches(r.hostnames, host) || !r.matchPath(path)) continue;
      if (!r.headers.every((h) => { const v = req.headers[h.name]; return typeof v === 'string' && h.test(v); })) continue;
      for (const [name, value] of r.setHeaders) res.setHeader(name, value);
      r.forwarder.handle(req, res);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('no route\n');
  };
  const server = createServer(handle);
  process.on('message', (msg: { config: PlainConfig; bind: string }) => {
    routes = msg.config.routes.map(compileRoute).sort(compare);
    if (listening) {
      process.send!({ applied: msg.config.version });
      return;
    }
    server.listen(msg.config.port, msg.bind, () => {
      listening = true;
      process.send!({ applied: msg.config.version });
    });
  });
}

// ---------------------------------------------------------------- primary

function runPrimary(): void {
  const { values } = parseArgs({
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f', multiple: true },
      workers: { type: 'string', default: '1' },
      bind: { type: 'string', default: '127.0.0.1' },
      admin: { type: 'string', default: '127.0.0.1:9901' },
      'log-level': { type: 'string' },
      'access-log': { type: 'string' },
      watch: { type: 'boolean', default: false },
    },
  });
  const files = values.file ?? [];
  const workerCount = Number(values.workers);
  let config = loadConfig(files);
  let servedVersion = '';
  const workers: Worker[] = [];
  const applied = new Map<Worker, string>();

  const push = (next: PlainConfig): void => {
    for (const w of workers) w.send({ config: next, bind: values.bind });
  };
  const onApplied = (w: Worker, version: string): void => {
    applied.set(w, version);
    if (workers.every((x) => applied.get(x) === config.version)) servedVersion = config.version;
  };
  for (let i = 0; i < workerCount; i++) {
    const w = cluster.fork();
    w.on('message', (m: { applied: string }) => onApplied(w, m.applied));
    workers.push(w);
  }
  cluster.on('exit', () => process.exit(1));
  push(config);

  const [adminHost, adminPort] = [values.admin.slice(0, values.admin.lastIndexOf(':')), Number(values.admin.slice(values.admin.lastIndexOf(':') + 1))];
  createServer((req, res) => {
    if (req.url === '/readyz') res.writeHead(servedVersion ? 200 : 503).end(servedVersion ? 'ready\n' : 'starting\n');
    else if (req.url === '/config') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ version: servedVersion, routes: config.routes.length }));
    else res.writeHead(404).end();
  }).listen(adminPort, adminHost, () => {
    process.stdout.write(`listening on http://${values.bind}:${config.port}\nadmin on http://${values.admin}\n`);
  });

  if (values.watch) {
    let timer: NodeJS.Timeout | undefined;
    const reload = (): void => {
      try {
        const next = loadConfig(files);
        if (next.version === config.version) return;
        config = next;
        push(config);
      } catch (err) {
        process.stderr.write(`reload failed, keeping the running config: ${(err as Error).message}\n`);
      }
    };
    // Watch the directories, not the files: an atomic rename replaces the file's inode.
    for (const dir of new Set(files.map((f) => dirname(f)))) {
      const names = new Set(files.filter((f) => dirname(f) === dir).map((f) => basename(f)));
      watch(dir, (_event, name) => {
        if (name && !names.has(name)) return;
        clearTimeout(timer);
        timer = setTimeout(reload, 20);
      });
    }
  }
}

if (import.meta.main) {
  if (cluster.isPrimary) runPrimary();
  else runWorker();
}
