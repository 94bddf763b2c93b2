// --workers: one configuration translated once, served by every worker;
// metrics aggregated by the one admin listener; dead workers replaced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startCli, type Running } from './helpers/cli.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { parseExposition } from './helpers/prometheus.ts';

let gw: Running;
let v1: Upstream;
let v2: Upstream;
let port: number;
let admin: string;
let file: string;
let token: string;

const config = (backend: string) => gatewayYaml(port, { v1: v1.port, v2: v2.port }, routeTo(backend));

before(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  port = await freePort();
  const adminPort = await freePort();
  admin = `http://127.0.0.1:${adminPort}`;
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-workers-'));
  file = join(dir, 'gw.yaml');
  await writeFile(file, config('v1'));
  gw = startCli(['run', '-f', file, '--watch', '--workers', '2', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${adminPort}`, '--access-log', 'off', '--log-level', 'info', '--data-dir', join(dir, 'data')]);
  await gw.waitFor(/listening on http:\/\/127\.0\.0\.1:\d+/);
  await gw.waitFor(/admin on .*\(2 workers\)/);
  token = readFileSync(join(dir, 'data', 'admin-token'), 'utf8').trim();
});

after(async () => {
  if (gw) assert.equal(await gw.stop(), 0);
  await Promise.all([v1?.close(), v2?.close()]);
});

/** Many fresh connections, so that the kernel spreads them over the workers. */
async function backends(n: number): Promise<string[]> {
  return Promise.all(Array.from({ length: n }, async () => {
    const agent = new Agent({ pipelining: 0 });
    try {
      const r = await request(`http://127.0.0.1:${port}/`, { dispatcher: agent });
      await r.body.dump();
      return `${r.statusCode} ${r.headers['x-backend']}`;
    } finally {
      await agent.close();
    }
  }));
}

/** Children of the primary, from /proc (no procps needed). */
function workerPids(): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === gw.child.pid) out.push(Number(d));
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

test('every worker serves the same snapshot and /metrics sums their counters', async () => {
  assert.equal(workerPids().length, 2);
  const got = await backends(40);
  assert.deepEqual([...new Set(got)], ['200 v1']);
  const metrics = parseExposition(await (await request(admin + '/metrics')).body.text());
  assert.equal(metrics.samples.get('portcullis_requests_total{route="default/r/0",status="200"}'), 40, 'the counts of both workers add up to the requests sent');
  assert.equal(metrics.types.get('portcullis_requests_total'), 'counter');
  assert.equal(metrics.types.get('portcullis_config_reloads_total'), 'counter', "the primary's own family is there too");
  const cfg = (await (await request(admin + '/config', { headers: { authorization: `Bearer ${token}` } })).body.json()) as { version: string };
  assert.match(cfg.version, /^[0-9a-f]{16}$/);
});

test('a reload reaches every worker', async () => {
  await writeFile(file, config('v2'));
  const end = Date.now() + 10_000;
  for (;;) {
    const got = await backends(20);
    if (got.every((g) => g === '200 v2')) break;
    assert.ok(got.every((g) => g.startsWith('200 ')), `no failed request during the reload: ${got}`);
    if (Date.now() > end) assert.fail(`workers did not all switch: ${got}`);
  }
});

test('a policy created through the management API reaches every worker within a second, and its deletion too', async () => {
  const path = '/apis/security.istio.io/v1/namespaces/default/authorizationpolicies';
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  const policy = {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'deny-all-paths' },
    spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }], action: 'DENY', rules: [{ to: [{ operation: { paths: ['/*'] } }] }] },
  };
  const t0 = Date.now();
  const created = await request(admin + path, { method: 'POST', headers, body: JSON.stringify(policy) });
  await created.body.dump();
  assert.equal(created.statusCode, 201);
  for (;;) {
    const got = await backends(10);
    if (got.every((g) => g.startsWith('403 '))) break;
    if (Date.now() - t0 > 1000) assert.fail(`not every worker denies within a second: ${got}`);
  }
  const t1 = Date.now();
  const deleted = await request(`${admin}${path}/deny-all-paths`, { method: 'DELETE', headers });
  await deleted.body.dump();
  assert.equal(deleted.statusCode, 200);
  for (;;) {
    const got = await backends(10);
    if (got.every((g) => g.startsWith('200 '))) break;
    if (Date.now() - t1 > 1000) assert.fail(`not every worker lifted the policy within a second: ${got}`);
  }
});

test('a worker that dies is replaced and the instance keeps serving; no counter goes backwards', async () => {
  const scrape = async () => parseExposition(await (await request(admin + '/metrics')).body.text()).samples;
  const before = await scrape();
  const [victim] = workerPids();
  process.kill(victim, 'SIGKILL');
  await gw.waitFor(/worker exited; starting a replacement/);
  const end = Date.now() + 10_000;
  while (workerPids().length < 2 || workerPids().includes(victim)) {
    if (Date.now() > end) assert.fail('no replacement worker');
    await new Promise((r) => setTimeout(r, 50));
  }
  // The replacement serves the current snapshot (v2), like the survivor.
  const got = await backends(30);
  assert.deepEqual([...new Set(got)], ['200 v2']);
  // What the dead worker had counted stays: every counter and histogram series is at least what it was.
  const after = await scrape();
  for (const [series, value] of before) {
    if (!/_total\{|_bucket\{|_sum\{|_count\{/.test(series)) continue;
    assert.ok((after.get(series) ?? 0) >= value, `${series} went from ${value} to ${after.get(series)}`);
  }
  const served = (s: Map<string, number>) => [...s].filter(([k]) => k.startsWith('portcullis_requests_total{route="default/r/0"')).reduce((n, [, v]) => n + v, 0);
  assert.equal(served(after), served(before) + 30);
});
