// Retries and circuit breaking over real sockets, with real upstream replicas
// that fail on command: BackendTrafficPolicy retry (status codes, connect
// failures, per-try timeout, a body replayed), HTTPRoute rule retry, and
// circuitBreaker thresholds (503 + x-envoy-overloaded at once, counted).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayDoc, httpListener, backendYaml, prefixRouteYaml, routePolicyYaml } from './helpers/yaml.ts';

type Mode = 'ok' | '503' | '500-once' | 'slow';
interface Replica { name: string; port: number; mode: Mode; hits: number; bodies: string[]; close(): Promise<void> }

async function replica(name: string, mode: Mode): Promise<Replica> {
  const seen = new Set<string>();
  const r: Replica = { name, port: 0, mode, hits: 0, bodies: [], close: async () => {} };
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      r.hits++;
      r.bodies.push(Buffer.concat(chunks).toString());
      const id = String(req.headers['x-request-id']);
      const answer = (status: number) => res.writeHead(status, { 'x-replica': name }).end(`${name} ${status}`);
      if (r.mode === '503') return answer(503);
      if (r.mode === '500-once' && !seen.has(id)) {
        seen.add(id);
        return answer(500);
      }
      if (r.mode === 'slow') return void setTimeout(() => answer(200), 800);
      answer(200);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  r.port = (server.address() as AddressInfo).port;
  r.close = () => new Promise<void>((resolve) => { server.close(() => resolve()); server.closeAllConnections(); });
  return r;
}

let gw: TestGateway;
let port: number;
let bad: Replica;
let good: Replica;
let flaky: Replica;
let slow: Replica;
let deadPort: number;

const backend = (name: string, ports: number[]) => backendYaml(name, ports);
const route = prefixRouteYaml;
const policy = routePolicyYaml;

before(async () => {
  [bad, good, flaky, slow] = await Promise.all([replica('bad', '503'), replica('good', 'ok'), replica('flaky', '500-once'), replica('slow', 'slow')]);
  deadPort = await freePort();
  port = await freePort();
  gw = await startGateway(gatewayDoc([httpListener(port)]) + backend('bad-good', [bad.port, good.port]) + backend('dead-good', [deadPort, good.port]) + backend('flaky', [flaky.port]) +
    backend('slow-good', [slow.port, good.port]) + backend('slow', [slow.port]) + backend('bad', [bad.port]) +
    route('retry', 'bad-good') + policy('retry', `retry:
  numRetries: 2
  retryOn:
    triggers: [retriable-status-codes]
    httpStatusCodes: [503]`) +
    route('connect', 'dead-good') + policy('connect', `retry:
  numRetries: 1
  retryOn: { triggers: [connect-failure] }`) +
    route('pertry', 'slow-good') + policy('pertry', `retry:
  numRetries: 1
  retryOn: { triggers: [reset, 5xx] }
  perRetry: { timeout: 200ms }`) +
    route('exhausted', 'bad') + policy('exhausted', `retry:
  numRetries: 2
  retryOn: { triggers: [gateway-error] }`) +
    route('gwapi', 'flaky', '  retry: { codes: [500], attempts: 1, backoff: 10ms }') +
    route('noretry', 'flaky') +
    route('cb', 'slow') + policy('cb', `circuitBreaker:
  maxPendingRequests: 0
  maxParallelRequests: 2`));
});

after(async () => {
  await gw?.close();
  await Promise.all([bad, good, flaky, slow].map((r) => r?.close()));
});

async function send(path: string, opts: { method?: string; body?: string } = {}) {
  const t0 = Date.now();
  const r = await request(`http://127.0.0.1:${port}${path}`, { method: (opts.method ?? 'GET') as 'GET', body: opts.body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, ms: Date.now() - t0 };
}

test('retry on a status: a replica answering 503 is retried on the other one, body included', async () => {
  const before = { bad: bad.hits, good: good.hits };
  for (let i = 0; i < 6; i++) assert.equal((await send('/retry')).status, 200);
  assert.ok(bad.hits > before.bad, 'the failing replica was tried');
  assert.equal(good.hits - before.good, 6, 'every request ended on the good replica');
  const payload = 'x'.repeat(20_000);
  good.bodies.length = 0;
  for (let i = 0; i < 3; i++) {
    const r = await send('/retry', { method: 'POST', body: payload });
    assert.equal(r.status, 200);
  }
  assert.deepEqual(good.bodies.map((b) => b.length), [20_000, 20_000, 20_000], 'the body reached the second attempt whole');
});

test('retry on connect failure: a dead replica is skipped', async () => {
  for (let i = 0; i < 4; i++) {
    const r = await send('/connect');
    assert.equal(r.status, 200, r.text);
    assert.equal(r.headers['x-replica'], 'good');
  }
});

test('perRetry.timeout: a slow attempt is cut and retried on another replica', async () => {
  for (let i = 0; i < 4; i++) {
    const r = await send('/pertry');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-replica'], 'good');
    assert.ok(r.ms < 700, `${r.ms} ms`);
  }
});

test('retries exhausted: the last answer goes to the client', async () => {
  const before = bad.hits;
  const r = await send('/exhausted');
  assert.equal(r.status, 503);
  assert.equal(r.text, 'bad 503');
  assert.equal(bad.hits - before, 3, 'one attempt and two retries');
});

test('HTTPRoute rule retry (Gateway API): codes and attempts are served', async () => {
  const r = await send('/gwapi');
  assert.equal(r.status, 200);
  assert.equal((await send('/noretry')).status, 500, 'without retry the first answer stands');
  const st = gw.instance.dataplane.current!.ir.status.find((s) => s.object === 'HTTPRoute/default/gwapi')!;
  assert.ok(!st.conditions.some((c) => c.type === 'UnsupportedFields'), JSON.stringify(st));
});

test('circuitBreaker: over maxParallelRequests the gateway answers 503 x-envoy-overloaded at once, counted', async () => {
  const results = await Promise.all(Array.from({ length: 5 }, () => send('/cb')));
  const ok = results.filter((r) => r.status === 200);
  const over = results.filter((r) => r.status === 503);
  assert.equal(ok.length, 2, JSON.stringify(results.map((r) => r.status)));
  assert.equal(over.length, 3);
  for (const r of over) {
    assert.equal(r.headers['x-envoy-overloaded'], 'true');
    assert.ok(r.ms < 500, `refused at once (${r.ms} ms)`);
  }
  const metrics = await (await request(`${gw.adminUrl}/metrics`)).body.text();
  assert.match(metrics, /portcullis_upstream_errors_total\{[^}]*kind="overflow"[^}]*\} 3/);
  // Slots are released: the next requests go through.
  assert.equal((await send('/cb')).status, 200);
});
