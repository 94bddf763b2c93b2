// Every command the README and the examples show runs as written on a machine
// whose own Node is older than the one the project needs (Node 20 here cannot
// run .ts files): through npx, npm scripts or the bin entry, which put the
// pinned Node 26 of node_modules first on PATH. No document says `node x.ts`.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { freePort } from './helpers/ports.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** PATH without node_modules/.bin: what a user's shell has (npm test puts the pinned node first). */
const SYSTEM_PATH = (process.env.PATH ?? '').split(':').filter((d) => !d.includes('node_modules')).join(':');
const env: NodeJS.ProcessEnv = { ...process.env, PATH: SYSTEM_PATH };
for (const k of Object.keys(env)) if (k.startsWith('npm_')) delete env[k];

function files(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) files(p, out);
    else if (/\.(md|ya?ml|ts)$/.test(name)) out.push(p);
  }
  return out;
}

test('no README or example tells the user to run a .ts file with the system node', () => {
  const docs = [join(ROOT, 'README.md'), join(ROOT, 'bench/README.md'), ...files(join(ROOT, 'examples'))];
  const offenders: string[] = [];
  for (const f of docs) {
    readFileSync(f, 'utf8').split('\n').forEach((line, i) => {
      if (/(^|[\s`$#&;(/])node\s+\S+\.ts\b/.test(line)) offenders.push(`${relative(ROOT, f)}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(offenders, []);
});

test('the system node here is one that cannot run .ts (else this file proves nothing)', () => {
  const r = spawnSync('node', ['--version'], { env, encoding: 'utf8' });
  if (r.error) return; // no system node at all: npx/npm below still must work
  const major = Number(/^v(\d+)/.exec(r.stdout)?.[1]);
  assert.ok(major > 0, r.stdout);
  if (major < 22) {
    const ts = spawnSync('node', [join(ROOT, 'examples/istio/ext-authz-server.ts')], { env, encoding: 'utf8', timeout: 20_000 });
    assert.notEqual(ts.status, 0, 'the old way fails on this node');
  }
});

test('npx portcullis runs on the pinned Node whatever the system node is', () => {
  const r = spawnSync('npx', ['portcullis', 'version'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^portcullis \S+ \(node v26\./);
});

test('npm run bench -- --help, as bench/README.md writes it', () => {
  const r = spawnSync('npm', ['run', '--silent', 'bench', '--', '--help'], { cwd: ROOT, env, encoding: 'utf8', timeout: 60_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /usage: npm run bench -- \[options\]/);
});

test('npm run ext-authz-sample, as examples/istio/README.md writes it, serves the sample authorizer', async () => {
  const [http, grpc] = [await freePort(), await freePort()];
  const child = spawn('npm', ['run', '--silent', 'ext-authz-sample', '--', '--http', String(http), '--grpc', String(grpc)], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no start line in 60 s:\n${out}`)), 60_000);
      child.stdout.on('data', () => { if (out.includes('ext_authz sample: HTTP on')) { clearTimeout(timer); resolve(); } });
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`exited ${code}:\n${out}`)); });
    });
    const r = await request(`http://127.0.0.1:${http}/check`, { headers: { 'x-ext-authz': 'allow' } });
    await r.body.dump();
    assert.equal(r.headers['x-ext-authz-check-result'], 'allowed');
  } finally {
    // npm runs the script in a shell: end the whole group this test started.
    process.kill(-child.pid!, 'SIGTERM');
  }
});
