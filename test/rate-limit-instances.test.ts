// Rate limits across processes, with the real CLI: two workers of one
// instance admit one local budget (leased from the primary), two instances
// share one global budget in a real redis-server, an outage of Redis fails
// open or closed and recovers, and long runs at twice the limit admit the
// budget within 1 % plus one window.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { runCli, startCli, type Running } from './helpers/cli.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { statusOnNewConnection } from './helpers/requests.ts';
import { gatewayYaml, beRef } from './helpers/gateway.ts';
import { startRedis, type TestRedis } from './helpers/redis.ts';
import { routeYaml } from './helpers/yaml.ts';

let up: Upstream;
let redis: TestRedis;
let dir: string;
const running: Running[] = [];

before(async () => {
  [up, redis] = await Promise.all([startUpstream('up'), startRedis()]);
  dir = await mkdtemp(join(tmpdir(), 'portcullis-rl-'));
});
after(async () => {
  for (const r of running) await r.stop();
  await Promise.all([up?.close(), redis?.close()]);
});

function yaml(port: number, type: 'Local' | 'Global', limit: string): string {
  const key = type === 'Global' ? 'global' : 'local';
  return gatewayYaml(port, { up: up.port }, `${routeYaml('r', `- matches: [{ path: { type: PathPrefix, value: /a } }]
  backendRefs: [${beRef('up')}]
- matches: [{ path: { type: PathPrefix, value: /b } }]
  backendRefs: [${beRef('up')}]`)}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: limit, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: r }]
  rateLimit:
    type: ${type}
    ${key}:
      rules:
        - clientSelectors: [{ path: { value: /a } }]
          limit: ${limit}
        - clientSelectors: [{ path: { value: /b } }]
          limit: { requests: 100, unit: Second }
`);
}

/** The instance's admin port, by the gateway port it serves. */
const adminOf = new Map<number, number>();

async function start(name: string, config: string, port: number, args: string[]): Promise<Running> {
  const file = join(dir, `${name}.yaml`);
  await writeFile(file, config);
  const admin = await freePort();
  adminOf.set(port, admin);
  const r = startCli(['run', '-f', file, '--bind', '127.0.0.1', '--admin', `127.0.0.1:${admin}`, '--access-log', 'stdout', '--log-level', 'warn', ...args]);
  running.push(r);
  await r.waitFor(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`), 60_000);
  return r;
}

/** A sample of the instance's /metrics (workers push theirs to the primary every second): its value once it reaches `atLeast`. */
async function metricReaches(port: number, sample: string, atLeast: number): Promise<number> {
  const deadline = Date.now() + 10_000;
  let value = 0;
  while (Date.now() < deadline) {
    const r = await request(`http://127.0.0.1:${adminOf.get(port)}/metrics`);
    const text = await r.body.text();
    const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
    value = line ? Number(line.slice(sample.length + 1)) : 0;
    if (value >= atLeast) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return value;
}

/** n requests, each on a fresh connection (so that the kernel spreads them over workers). */
async function fresh(port: number, path: string, n: number): Promise<number[]> {
  return Promise.all(Array.from({ length: n }, () => statusOnNewConnection(`http://127.0.0.1:${port}${path}`, { pipelining: 0 })));
}

/** Poll one request at a time until the answer is 200 (at most 15 s); returns the last status. */
async function untilOk(port: number): Promise<number> {
  const deadline = Date.now() + 15_000;
  let last = 0;
  while (Date.now() < deadline) {
    [last] = await fresh(port, '/a', 1);
    if (last === 200) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last;
}

const count = (xs: number[], s: number) => xs.filter((x) => x === s).length;

/**
 * Send at `rate` requests/s for `seconds` over a few keep-alive connections
 * to each port, round robin; returns how many were admitted.
 */
async function drive(ports: number[], path: string, rate: number, seconds: number): Promise<{ admitted: number; refused: number; other: number }> {
  const agents = ports.map(() => new Agent({ connections: 8 }));
  const out = { admitted: 0, refused: 0, other: 0 };
  const total = rate * seconds;
  const t0 = performance.now();
  const inflight: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = t0 + (i * 1000) / rate;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const k = i % ports.length;
    inflight.push(request(`http://127.0.0.1:${ports[k]}${path}`, { dispatcher: agents[k] }).then(async (r) => {
      await r.body.dump();
      if (r.statusCode === 200) out.admitted++;
      else if (r.statusCode === 429) out.refused++;
      else out.other++;
    }, () => { out.other++; }));
  }
  await Promise.all(inflight);
  await Promise.all(agents.map((a) => a.close()));
  return out;
}

/**
 * What a perfect limiter admits for the requests the gateways actually saw:
 * per window (second of arrival, from their access logs: end time minus
 * duration), the arrivals up to the limit. On a loaded machine requests
 * arrive later and more spread than they were sent, so the budget comes
 * from the gateways' side, not the driver's.
 */
async function perfectBudget(gateways: Running[], path: string, limit: number, total: number): Promise<{ budget: number; admitted: number; worstWindow: number }> {
  // Access logs are flushed every 250 ms: wait until every answer is there.
  const lines = () => gateways.flatMap((g) => g.output().split('\n')).filter((l) => l.startsWith('{"time"') && l.includes(`"path":"${path}"`));
  for (let i = 0; i < 50 && lines().length < total; i++) await new Promise((r) => setTimeout(r, 100));
  const arrivals = new Map<number, number>();
  const admitted = new Map<number, number>();
  {
    for (const line of lines()) {
      const rec = JSON.parse(line) as { time: string; status: number; duration_ms: number };
      const w = Math.floor((Date.parse(rec.time) - rec.duration_ms) / 1000);
      arrivals.set(w, (arrivals.get(w) ?? 0) + 1);
      if (rec.status === 200) admitted.set(w, (admitted.get(w) ?? 0) + 1);
    }
  }
  let budget = 0;
  for (const n of arrivals.values()) budget += Math.min(n, limit);
  return { budget, admitted: [...admitted.values()].reduce((a, b) => a + b, 0), worstWindow: Math.max(0, ...admitted.values()) };
}

/**
 * How far over the limit one window may look: the log dates a request by its arrival, the limiter
 * counts it in the window of the moment it decides (after a Redis round trip, or a worker lease), so
 * on a loaded machine a few requests that arrive in a window's last milliseconds are counted in the next.
 */
const WINDOW_EDGE_SLACK = 5;

/** Start at the beginning of a second: a run of k seconds then spans exactly k windows (plus a little). */
const alignToSecond = () => new Promise((r) => setTimeout(r, 1000 - (Date.now() % 1000) + 20));

test('--workers 2: two workers together admit one local budget, not twice it', async (t) => {
  const port = await freePort();
  const gw = await start('workers', yaml(port, 'Local', '{ requests: 30, unit: Hour }'), port, ['--workers', '2']);
  const first = await fresh(port, '/a', 50);
  assert.equal(count(first, 200), 30, `admitted ${count(first, 200)} of 50 with a budget of 30`);
  assert.equal(count(first, 429), 20);
  // Accuracy, per second, still across both workers.
  await alignToSecond();
  const run = await drive([port], '/b', 200, 3);
  const { budget, admitted, worstWindow } = await perfectBudget([gw], '/b', 100, 600);
  t.diagnostic(`local, 2 workers, 100/s at 200/s: admitted ${run.admitted} (logged ${admitted}), perfect limiter ${budget}, busiest window ${worstWindow}`);
  assert.equal(admitted, run.admitted, 'every answer is in the access log');
  assert.ok(run.admitted <= budget * 1.01 + 100 && run.admitted >= budget * 0.99 - 100, `admitted ${run.admitted}, budget ${budget} (${JSON.stringify(run)})`);
  assert.ok(worstWindow <= 100 + WINDOW_EDGE_SLACK, `no window admitted much more than the limit (${worstWindow})`);
  assert.equal(run.other, 0);
});

// A long Redis timeout: this is about counting, not outages (a loaded machine must not turn it into fail-open).
test('Global: two instances share one budget in Redis; at 2x the limit they admit it within 1 % + one window', async (t) => {
  const [p1, p2] = [await freePort(), await freePort()];
  const [g1, g2] = await Promise.all([
    start('g1', yaml(p1, 'Global', '{ requests: 20, unit: Hour }'), p1, ['--workers', '1', '--redis', redis.url, '--redis-timeout', '5000']),
    start('g2', yaml(p2, 'Global', '{ requests: 20, unit: Hour }'), p2, ['--workers', '1', '--redis', redis.url, '--redis-timeout', '5000']),
  ]);
  const [a, b] = await Promise.all([fresh(p1, '/a', 15), fresh(p2, '/a', 15)]);
  assert.equal(count(a, 200) + count(b, 200), 20, `admitted ${count(a, 200)} + ${count(b, 200)}`);
  assert.ok(count(a, 200) > 0 && count(b, 200) > 0, 'both instances admitted part of it');
  await alignToSecond();
  const run = await drive([p1, p2], '/b', 200, 3);
  const { budget, admitted, worstWindow } = await perfectBudget([g1, g2], '/b', 100, 600);
  t.diagnostic(`global, 2 instances, 100/s at 200/s: admitted ${run.admitted} (logged ${admitted}), perfect limiter ${budget}, busiest window ${worstWindow}`);
  assert.ok(worstWindow <= 100 + WINDOW_EDGE_SLACK, `no window admitted much more than the limit (${worstWindow})`);
  assert.ok(run.admitted >= budget * 0.99 - 100 && run.admitted <= budget * 1.01 + 100, `admitted ${run.admitted}, budget ${budget} (${JSON.stringify(run)})`);
  assert.equal(run.other, 0);
});

// Limits under 100 reserve one token per request (redisBatch), so nothing reserved before the outage hides it.
test('Redis killed mid-traffic: fail open keeps admitting, fail closed answers 500, both within the timeout; both recover', async () => {
  const [po, pc] = [await freePort(), await freePort()];
  await Promise.all([
    start('open', yaml(po, 'Global', '{ requests: 90, unit: Hour }'), po, ['--workers', '1', '--redis', redis.url, '--redis-timeout', '200']),
    start('closed', yaml(pc, 'Global', '{ requests: 90, unit: Hour }'), pc, ['--workers', '1', '--redis', redis.url, '--redis-timeout', '200', '--redis-fail-closed']),
  ]);
  // Both count in Redis before the outage (the first requests also wait for the connection, which a loaded machine can make slow).
  await untilOk(po);
  await untilOk(pc);
  await redis.kill();
  const t0 = Date.now();
  const [o, c] = await Promise.all([fresh(po, '/a', 5), fresh(pc, '/a', 5)]);
  assert.ok(Date.now() - t0 < 3000, 'an outage never hangs requests');
  assert.deepEqual(o, [200, 200, 200, 200, 200], 'fail open');
  assert.deepEqual(c, [500, 500, 500, 500, 500], 'fail closed');
  // Each decision made without Redis is counted, by mode.
  assert.ok(await metricReaches(po, 'portcullis_ratelimit_store_errors_total{mode="open"}', 5) >= 5, 'fail-open decisions counted');
  assert.ok(await metricReaches(pc, 'portcullis_ratelimit_store_errors_total{mode="closed"}', 5) >= 5, 'fail-closed decisions counted');
  // A route without a global rule is never affected.
  await redis.start();
  assert.equal(await untilOk(pc), 200, 'counting resumes by itself when Redis returns');
  const keys = await redis.command('KEYS', 'portcullis:rl:*');
  assert.match(keys, /portcullis:rl:g\|BackendTrafficPolicy\/default\/limit\|0\|HTTPRoute\/default\/r\/rule\/0@default\/gw\/http\|90\/Hour:\d+/);
});

test('Global without --redis: the configuration is refused with a message that says so', async () => {
  const port = await freePort();
  const file = join(dir, 'noredis.yaml');
  await writeFile(file, yaml(port, 'Global', '{ requests: 1, unit: Hour }'));
  const r = await runCli(['run', '-f', file, '--bind', '127.0.0.1', '--admin', `127.0.0.1:${await freePort()}`, '--workers', '1']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /BackendTrafficPolicy\/default\/limit: rateLimit.type Global counts in Redis; start Portcullis with --redis URL/);
});
