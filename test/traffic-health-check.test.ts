// BackendTrafficPolicy healthCheck over real sockets, with replicas that fail
// on command: passive (outlier detection: a replica answering 503, one that
// refuses connections, ejected and returned after baseEjectionTime) and
// active (HTTP with expected statuses and body, TCP), verdicts that survive a
// reload, and checks that stop when the gateway does.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { startReplica, type Replica } from './helpers/replicas.ts';
import { until } from './helpers/management.ts';
import { activeCheckCount } from '../src/upstream/active-health.ts';
import { gatewayDoc, httpListener, serviceYaml, routePolicyYaml } from './helpers/yaml.ts';
import { egRouteYaml } from './helpers/eg-quickstart.ts';

let gw: TestGateway;
let port: number;
const r: Record<string, Replica> = {};

const route = (name: string, service: string) => egRouteYaml(name, `/${name}`, service);
const policy = routePolicyYaml;

let config: string;

/** Active checks every 50 ms, out after two failures, back after one success. */
const active = (check: string) => `loadBalancer:
  type: RoundRobin
healthCheck:
  active:
    timeout: 500ms
    interval: 50ms
    unhealthyThreshold: 2
    healthyThreshold: 1
    ${check}`;

before(async () => {
  for (const n of ['p1', 'p2', 'l1', 'l2', 'h1', 'h2', 't1', 't2']) r[n] = await startReplica(n);
  port = await freePort();
  config = gatewayDoc([httpListener(port)], { name: 'eg', className: 'eg' }) + serviceYaml('passive-svc', [r.p1, r.p2]) + serviceYaml('local-svc', [r.l1, r.l2]) + serviceYaml('http-svc', [r.h1, r.h2]) + serviceYaml('tcp-svc', [r.t1, r.t2]) +
    // Envoy Gateway's passive health check example, with a shorter ejection for the test (long enough
    // that a loaded machine sends the 20 requests below before it ends).
    route('passive', 'passive-svc') + policy('passive', `loadBalancer:
  type: RoundRobin
healthCheck:
  passive:
    baseEjectionTime: 2s
    interval: 2s
    maxEjectionPercent: 100
    consecutive5XxErrors: 3
    consecutiveGatewayErrors: 0
    consecutiveLocalOriginFailures: 5
    splitExternalLocalOriginErrors: false`) +
    route('local', 'local-svc') + policy('local', `loadBalancer:
  type: RoundRobin
healthCheck:
  passive:
    baseEjectionTime: 60s
    splitExternalLocalOriginErrors: true
    consecutiveLocalOriginFailures: 2
    maxEjectionPercent: 50`) +
    route('http', 'http-svc') + policy('http', active(`type: HTTP
    http:
      path: /healthz
      method: GET
      expectedStatuses:
        - 200
      expectedResponse:
        type: Text
        text: ok`)) +
    route('tcp', 'tcp-svc') + policy('tcp', active('type: TCP'));
  gw = await startGateway(config);
});

after(async () => {
  await gw?.close();
  await Promise.all(Object.values(r).map((x) => x.close()));
});

async function get(path: string) {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: 'www.example.com' } });
  return { status: res.statusCode, body: await res.body.text() };
}

async function bodies(path: string, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) out.push((await get(path)).body);
  return out;
}

test('passive: a replica answering 503 is ejected after consecutive5XxErrors and returns after baseEjectionTime', async () => {
  r.p1.mode = '503';
  const before = r.p1.hits;
  const seen = await bodies('/passive', 20);
  assert.equal(r.p1.hits - before, 3, 'three 503s, then out of rotation');
  assert.deepEqual(seen.slice(-10), Array(10).fill('p2'));
  r.p1.mode = 'ok';
  // Back in rotation once the ejection time is over.
  await until('p1 back in rotation', async () => (await get('/passive')).body === 'p1', 10_000);
});

test('passive, split local-origin errors: a replica that refuses connections is ejected after consecutiveLocalOriginFailures', async () => {
  await r.l1.stop();
  try {
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await get('/local')).status);
    assert.equal(statuses.filter((s) => s !== 200).length, 2, `two failures reach clients, then l1 is out: ${statuses}`);
    assert.deepEqual(statuses.slice(-8), Array(8).fill(200));
  } finally {
    await r.l1.start();
  }
});

test('active HTTP: a replica whose /healthz fails (status or body) leaves rotation and comes back when it passes', async () => {
  assert.deepEqual(new Set(await bodies('/http', 4)), new Set(['h1', 'h2']));
  r.h1.health = 500;
  await until('h1 out of rotation', async () => (await bodies('/http', 4)).every((b) => b === 'h2'), 3000);
  assert.ok(r.h1.probes > 0);
  r.h1.health = 200;
  await until('h1 back', async () => (await bodies('/http', 4)).includes('h1'), 3000);
  // expectedResponse: a 200 without "ok" in its body fails too.
  r.h2.healthBody = 'degraded';
  await until('h2 out of rotation', async () => (await bodies('/http', 4)).every((b) => b === 'h1'), 3000);
  r.h2.healthBody = 'ok';
  await until('h2 back', async () => (await bodies('/http', 4)).includes('h2'), 3000);
});

test('active TCP: a replica that stops listening leaves rotation; a reload keeps the verdict', async () => {
  await r.t1.stop();
  try {
    await until('t1 out of rotation', async () => (await Promise.all([get('/tcp'), get('/tcp')])).every((x) => x.status === 200 && x.body === 't2'), 3000);
    // A reload compiles a new balancer: it finds the same health state (t1 is not tried again).
    assert.equal(await gw.instance.reload(), true);
    const after = await Promise.all([get('/tcp'), get('/tcp'), get('/tcp'), get('/tcp')]);
    assert.deepEqual(after.map((x) => x.status), [200, 200, 200, 200]);
  } finally {
    await r.t1.start();
  }
  await until('t1 back', async () => (await bodies('/tcp', 4)).includes('t1'), 3000);
});

test('active checks run once per route backend and stop when the gateway closes', async () => {
  assert.equal(activeCheckCount(), 2, 'the http and tcp checks, after a reload too');
  const p = await freePort();
  const other = await startGateway(config.replace(`port: ${port}`, `port: ${p}`));
  // The second instance in this process shares the states (same policy identity): still two checks.
  assert.equal(activeCheckCount(), 2);
  await other.close();
  assert.equal(activeCheckCount(), 2, 'the first gateway still checks');
  await gw.close();
  gw = undefined as unknown as TestGateway;
  assert.equal(activeCheckCount(), 0, 'no timer left behind');
});
