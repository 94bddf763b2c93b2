// explain and the running gateway give the same answer to every request of
// every example: the curl lines of README.md, examples/istio/README.md and the
// "Try:" lines of examples/*.yaml, read from those files (so a new curl line is
// checked without editing this test), each sent over a real socket to the
// example served on free ports, and explained offline on the same files.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { explain, shellWords, type ParsedRequest } from '../src/cli/explain.ts';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { send } from './helpers/istio-e2e.ts';
import { startExtAuthzSample, type ExtAuthzSample } from '../examples/istio/ext-authz-server.ts';

const REPO = fileURLToPath(new URL('..', import.meta.url));

interface CurlRequest {
  /** The line as written, for messages. */
  line: string;
  method: string;
  /** Listener port as written (8080…). */
  port: number;
  target: string;
  headers: Record<string, string>;
  sourceIp: string;
}

/** Example configurations (paths relative to the repo) → the requests written for them. */
type Catalogue = Map<string, CurlRequest[]>;

/** What is not run here, and why: each is covered by its own test over real sockets. */
const NOT_HERE: Record<string, string> = {
  'examples/istio/peer-authentication.yaml': 'needs certificates made by `portcullis ca` (test/istio-e2e-mtls.test.ts compares explain with the gateway)',
  'examples/tls.yaml': 'needs a certificate made by `portcullis ca` (test/examples.test.ts)',
  'examples/traffic/global-rate-limit.yaml': 'counts in Redis: needs --redis and a redis-server (test/examples.test.ts runs it with a real one)',
};

function parseCurl(text: string, line: string): CurlRequest | string {
  let cmd = text;
  const loop = /\bdo (curl .*?);\s*done/.exec(cmd);
  if (loop) cmd = loop[1];
  cmd = cmd.split(' | ')[0];
  cmd = cmd.replace(/\$\(cat ([^)]+)\)/g, (_, f: string) => readFileSync(join(REPO, f), 'utf8').trim());
  if (cmd.includes('$')) return 'uses a shell variable (a token fetched from the Internet)';
  const words = shellWords(cmd);
  if (words[0] !== 'curl') return 'not a curl line';
  let method = 'GET';
  let url: string | undefined;
  let sourceIp = '127.0.0.1';
  const headers: Record<string, string> = {};
  for (let i = 1; i < words.length; i++) {
    const w = words[i];
    if (w === '-X') method = words[++i];
    else if (w === '-H') {
      const h = words[++i];
      const c = h.indexOf(':');
      headers[h.slice(0, c).trim().toLowerCase()] = h.slice(c + 1).trim();
    } else if (w === '--interface') sourceIp = words[++i];
    else if (w === '-o' || w === '-w' || w === '-D') i++;
    else if (w === '-I') method = 'HEAD';
    else if (w.startsWith('-')) continue; // -s, -i, -si, --path-as-is: no effect on the request sent
    else url = w;
  }
  if (!url) return 'no URL';
  const m = /^(?:http:\/\/)?([^/:]+):(\d+)(\/.*)?$/.exec(url);
  if (!m) return `not a plain http URL: ${url}`;
  if (m[2] === '9901') return 'the admin listener';
  if (m[2] === '9081' || m[2] === '9082') return 'a demo backend, not the gateway';
  return { line, method, port: Number(m[2]), target: m[3] ?? '/', headers, sourceIp };
}

function add(cat: Catalogue, config: string | undefined, text: string, line: string, skipped: string[]): void {
  if (!config) throw new Error(`${line}: a curl line before any "portcullis run"`);
  if (NOT_HERE[config]) return void skipped.push(`${line}: ${NOT_HERE[config]}`);
  const r = parseCurl(text, line);
  if (typeof r === 'string') skipped.push(`${line}: ${r}`);
  else {
    const list = cat.get(config);
    if (list) list.push(r);
    else cat.set(config, [r]);
  }
}

/** Console blocks: `$ npx portcullis run [-f FILE]` says which example the following `$ curl` lines are for. */
function fromReadme(cat: Catalogue, file: string, defaultConfig: string | undefined, skipped: string[]): void {
  const lines = readFileSync(join(REPO, file), 'utf8').split('\n');
  let inConsole = false;
  let config = defaultConfig;
  lines.forEach((raw, n) => {
    if (raw.startsWith('```')) {
      inConsole = raw === '```console';
      return;
    }
    if (!inConsole || !raw.startsWith('$ ')) return;
    const text = raw.slice(2).replace(/\s+#.*$/, '');
    const where = `${file}:${n + 1}`;
    const run = /^npx portcullis run(.*)$/.exec(text);
    if (run) {
      const files = [...run[1].matchAll(/-f (\S+)/g)].map((x) => x[1]);
      // Several files (the quickstart and policies written for it) are one configuration: "a b".
      config = files.length === 0 ? 'examples/quickstart' : files.join(' ');
      return;
    }
    if (/(^|do )curl /.test(text)) add(cat, config, text, where, skipped);
  });
}

/** `# Try: curl …` comment lines at the top of examples/*.yaml. */
function fromYamlComments(cat: Catalogue, file: string, skipped: string[]): void {
  readFileSync(join(REPO, file), 'utf8').split('\n').forEach((raw, n) => {
    const m = /^#\s*(?:Try:)?\s*((?:for .*do )?curl .*?)(?:\s{2,}\(.*)?$/.exec(raw);
    if (m) add(cat, file, m[1], `${file}:${n + 1}`, skipped);
  });
}

function catalogue(): { cat: Catalogue; skipped: string[] } {
  const cat: Catalogue = new Map();
  const skipped: string[] = [];
  fromReadme(cat, 'README.md', 'examples/quickstart', skipped);
  fromReadme(cat, 'examples/istio/README.md', undefined, skipped);
  for (const d of ['examples', 'examples/traffic', 'examples/analyze']) {
    for (const f of readdirSync(join(REPO, d)).sort()) if (f.endsWith('.yaml')) fromYamlComments(cat, `${d}/${f}`, skipped);
  }
  return { cat, skipped };
}

const { cat, skipped } = catalogue();

let v1: EchoServer;
let v2: EchoServer;
let authz: ExtAuthzSample;
let dir: string;

before(async () => {
  v1 = await startEcho('v1', '127.0.0.1', 0);
  v2 = await startEcho('v2', '127.0.0.1', 0);
  authz = await startExtAuthzSample({ httpPort: 0, grpcPort: 0 });
  dir = await mkdtemp(join(tmpdir(), 'portcullis-agree-'));
});

after(async () => {
  await v1?.close();
  await v2?.close();
  await authz?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** The example's YAML with its fixed ports moved: listeners to free ports, demo backends (and the authorizer) to ours. */
function moved(config: string, ports: Map<number, number>): string {
  const files = config.split(' ').flatMap((c) => {
    const abs = join(REPO, c);
    return statSync(abs).isDirectory() ? readdirSync(abs).filter((f) => f.endsWith('.yaml')).sort().map((f) => join(abs, f)) : [abs];
  });
  const map = new Map<number, number>([[9081, v1.port], [9082, v2.port], ...ports]);
  if (config.endsWith('authz-custom.yaml')) {
    map.set(8000, authz.httpPort);
    map.set(9000, authz.grpcPort);
  }
  return files.map((f) => {
    let text = readFileSync(f, 'utf8');
    for (const [from, to] of map) text = text.replace(new RegExp(`(port: "?|^\\s+)${from}(?=["\\s:]|$)`, 'gm'), `$1${to}`);
    return text;
  }).join('\n---\n');
}

/** The statuses of faults explain says are drawn by chance ("50% of requests get 501"). */
function chanceStatuses(text: string): number[] {
  return [...text.matchAll(/\d+(?:\.\d+)?% of requests get (\d{3})/g)].map((m) => Number(m[1]));
}

/**
 * explain's verdict in the gateway's terms: the statuses it may answer, and the body when the gateway writes it.
 * "proxied to … at host:port" is whatever that backend answers the same request (asked directly);
 * a fault drawn by chance (faultInjection percentage) adds its status to the possible answers.
 */
async function verdict(text: string, r: CurlRequest): Promise<{ statuses: number[]; body?: string }> {
  const answer = /^answer: (.*)$/m.exec(text)?.[1] ?? '';
  const chance = chanceStatuses(text);
  const at = /^proxied to .* at ([^\s:]+):(\d+)$/.exec(answer);
  if (at) {
    const direct = await send(Number(at[2]), r.target, { method: r.method, headers: { host: 'backend', ...r.headers } });
    return { statuses: [direct.status, ...chance] };
  }
  if (answer.startsWith('proxied to ')) return { statuses: [200, ...chance] };
  const own = /^(\d{3}) \([^)]*\)(?: (".*"))?$/.exec(answer);
  if (own) return { statuses: [Number(own[1]), ...chance], body: chance.length > 0 ? undefined : own[2] ? (JSON.parse(own[2]) as string) : undefined };
  if (answer.startsWith('depends on the backend')) {
    const each = [...text.matchAll(/^ {2}answer on this backend: (.*)$/gm)].map((m) => (m[1].startsWith('proxied') ? 200 : Number(m[1].slice(0, 3))));
    return { statuses: [...new Set(each)] };
  }
  throw new Error(`explain gave no answer I can compare:\n${text}`);
}

/** Every status explain gave so far is one a chance fault answers. */
function chanceOnly(statuses: number[], text: string): boolean {
  const chance = new Set(chanceStatuses(text));
  return chance.size > 0 && statuses.every((x) => chance.has(x));
}

test('the examples have curl lines to compare, and only the known ones are left out', () => {
  const total = [...cat.values()].reduce((n, l) => n + l.length, 0);
  assert.ok(total >= 40, `${total} requests found`);
  for (const c of cat.keys()) for (const f of c.split(' ')) assert.ok(statSync(join(REPO, f)), f);
  // Lines with a token fetched from GitHub, the admin listener and the certificate examples are the only ones left out.
  for (const s of skipped) assert.match(s, /shell variable|admin listener|portcullis ca|demo backend|redis-server/, s);
});

for (const [config, requests] of cat) {
  test(`${config}: explain and the gateway agree on ${requests.length} request(s)`, async () => {
    const ports = new Map<number, number>();
    for (const r of requests) if (!ports.has(r.port)) ports.set(r.port, await freePort());
    const yaml = moved(config, ports);
    const file = join(dir, `${config.replaceAll(/[/ ]/g, '_')}.yaml`);
    await writeFile(file, yaml);
    const gw = await startGateway(yaml);
    try {
      for (const r of requests) {
        const port = ports.get(r.port)!;
        const authority = `localhost:${port}`;
        const parsed: ParsedRequest = { method: r.method, url: new URL(`http://${authority}/`), target: r.target, headers: r.headers };
        const ex = await explain([file], parsed, { sourceIp: r.sourceIp, rootNamespace: 'istio-system' });
        const want = await verdict(ex.text, r);
        // A fault drawn by chance: explain draws as the gateway does, so explain again until the other
        // side of the draw shows what the request gets when the fault is not drawn.
        for (let i = 0; i < 50 && chanceOnly(want.statuses, ex.text); i++) {
          const again = await verdict((await explain([file], parsed, { sourceIp: r.sourceIp, rootNamespace: 'istio-system' })).text, r);
          want.statuses.push(...again.statuses);
        }
        const got = await send(port, r.target, { method: r.method, headers: { host: authority, ...r.headers }, localAddress: r.sourceIp === '127.0.0.1' ? undefined : r.sourceIp });
        assert.ok(want.statuses.includes(got.status), `${r.line}: the gateway answered ${got.status}, explain said ${want.statuses.join(' or ')}\n${ex.text}`);
        if (want.body !== undefined) assert.equal(got.body.trim(), want.body, `${r.line}: the body`);
      }
    } finally {
      await gw.close();
    }
  });
}
