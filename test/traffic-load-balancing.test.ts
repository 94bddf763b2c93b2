// BackendTrafficPolicy loadBalancer over real sockets: four replicas of one
// Service (an EndpointSlice each), the policies of Envoy Gateway's "Load
// Balancing" task page, and LeastRequest as the default without a policy.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { startReplica, type Replica } from './helpers/replicas.ts';
import { gatewayDoc, httpListener, serviceYaml, policyYaml } from './helpers/yaml.ts';
import { egRouteYaml } from './helpers/eg-quickstart.ts';
import { until } from './helpers/management.ts';

let gw: TestGateway;
let port: number;
let reps: Replica[];
let pair: Replica[];
let yaml: (extra: string) => string;

const route = egRouteYaml;
const policy = (name: string, routeName: string, lb: string) =>
  policyYaml('BackendTrafficPolicy', name, `HTTPRoute/${routeName}`, `loadBalancer:\n${lb.replace(/^/gm, '  ')}`);

before(async () => {
  reps = await Promise.all(['a', 'b', 'c', 'd'].map((n) => startReplica(n)));
  pair = await Promise.all(['p', 'q'].map((n) => startReplica(n)));
  port = await freePort();
  yaml = (extra) => gatewayDoc([httpListener(port)], { name: 'eg', className: 'eg' }) + serviceYaml('backend', reps) + serviceYaml('pair', pair) +
    route('round-robin-route', '/round') + policy('round-robin-policy', 'round-robin-route', 'type: RoundRobin') +
    route('random-route', '/random') + policy('random-policy', 'random-route', 'type: Random') +
    route('least-request-route', '/least', 'pair') +
    route('source-ip-route', '/source') + policy('source-ip-policy', 'source-ip-route', 'type: ConsistentHash\nconsistentHash:\n  type: SourceIP') +
    route('header-route', '/header') + policy('header-policy', 'header-route', 'type: ConsistentHash\nconsistentHash:\n  type: Header\n  header:\n    name: FooBar') +
    route('cookie-route', '/cookie') + policy('cookie-policy', 'cookie-route', 'type: ConsistentHash\nconsistentHash:\n  type: Cookie\n  cookie:\n    name: FooBar\n    ttl: 60s\n    attributes:\n      SameSite: Strict') +
    route('cookie-nottl-route', '/nottl') + policy('cookie-nottl-policy', 'cookie-nottl-route', 'type: ConsistentHash\nconsistentHash:\n  type: Cookie\n  cookie:\n    name: FooBar') +
    extra;
  gw = await startGateway(yaml(''));
});

after(async () => {
  await gw?.close();
  await Promise.all([...(reps ?? []), ...(pair ?? [])].map((r) => r.close()));
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers: { host: 'www.example.com', ...headers } });
  const body = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body };
}

async function spread(path: string, n: number, headers: Record<string, string> = {}): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const r = await get(path, headers);
    assert.equal(r.status, 200, r.body);
    seen.set(r.body, (seen.get(r.body) ?? 0) + 1);
  }
  return seen;
}

test('RoundRobin: every replica takes its turn', async () => {
  const seen = await spread('/round', 8);
  assert.deepEqual([...seen.entries()].sort(), [['a', 2], ['b', 2], ['c', 2], ['d', 2]]);
});

test('Random: requests reach every replica', async () => {
  const seen = await spread('/random', 200);
  assert.equal(seen.size, 4, JSON.stringify([...seen]));
  for (const n of seen.values()) assert.ok(n > 20, JSON.stringify([...seen]));
});

test('LeastRequest (the default without a policy): a replica busy with a request gets no more while another is idle', async () => {
  const [p, q] = pair;
  p.mode = q.mode = 'hold';
  try {
    // One request held by one replica.
    const first = get('/least');
    await until('a replica holds the first request', async () => p.held() + q.held() === 1);
    const busy = p.held() === 1 ? p : q;
    const idle = busy === p ? q : p;
    busy.mode = 'hold';
    idle.mode = 'ok';
    const before = idle.hits;
    for (let i = 0; i < 6; i++) assert.equal((await get('/least')).body, idle.name);
    assert.equal(idle.hits - before, 6);
    assert.equal(busy.held(), 1, 'the busy replica got nothing more');
    busy.release();
    await first;
    // Both idle again: they take turns.
    busy.mode = 'ok';
    const seen = await spread('/least', 4);
    assert.deepEqual([...seen.values()], [2, 2]);
  } finally {
    p.mode = q.mode = 'ok';
    p.release();
    q.release();
  }
});

test('ConsistentHash Header: one value sticks to one replica, values spread, a missing header still gets an answer', async () => {
  for (const v of ['alice', 'bob', 'carol']) assert.equal((await spread('/header', 10, { FooBar: v })).size, 1, v);
  const owners = new Set<string>();
  for (let i = 0; i < 40; i++) owners.add((await get('/header', { FooBar: `user-${i}` })).body);
  assert.ok(owners.size >= 3, `40 values over ${owners.size} replicas`);
  const missing = await spread('/header', 40);
  assert.ok(missing.size > 1, 'without the header: a random replica (Envoy), not always the same');
});

test('ConsistentHash SourceIP: one client, one replica', async () => {
  assert.equal((await spread('/source', 12)).size, 1);
});

test('ConsistentHash Cookie with ttl: generated when absent (Max-Age, attributes), then the replica sticks', async () => {
  const first = await get('/cookie');
  const setCookie = String(first.headers['set-cookie']);
  assert.match(setCookie, /^FooBar=[0-9a-f]+; Max-Age=60; HttpOnly; SameSite=Strict$/);
  const cookie = setCookie.split(';')[0];
  const seen = await spread('/cookie', 12, { cookie: `other=1; ${cookie}` });
  assert.deepEqual([...seen.keys()], [first.body], 'the generated cookie leads back to the replica that answered');
  const again = await get('/cookie', { cookie });
  assert.equal(again.headers['set-cookie'], undefined, 'a request with the cookie gets none');
  // Other cookies spread over the replicas.
  const owners = new Set<string>();
  for (let i = 0; i < 40; i++) owners.add((await get('/cookie', { cookie: `FooBar=v${i}` })).body);
  assert.ok(owners.size >= 3);
});

test('ConsistentHash Cookie without ttl: no cookie generated, a random replica', async () => {
  const r = await get('/nottl');
  assert.equal(r.headers['set-cookie'], undefined);
  assert.ok((await spread('/nottl', 40)).size > 1);
});

test('slowStart: a replica added by a reload starts with a small share of the traffic', async () => {
  const fresh = await startReplica('e');
  try {
    // The first snapshot with the policy lists a, b, c, d only: no ramp for them.
    await gw.write(yaml(serviceYaml('slowsvc', reps) + route('slow-start-route', '/slow', 'slowsvc') + policy('slow-start-policy', 'slow-start-route', 'type: RoundRobin\nslowStart:\n  window: 60s')));
    assert.equal(await gw.instance.reload(), true);
    assert.equal((await spread('/slow', 8)).size, 4);
    await gw.write(yaml(serviceYaml('slowsvc', [...reps, fresh]) + route('slow-start-route', '/slow', 'slowsvc') + policy('slow-start-policy', 'slow-start-route', 'type: RoundRobin\nslowStart:\n  window: 60s')));
    assert.equal(await gw.instance.reload(), true);
    const seen = await spread('/slow', 400);
    const share = (seen.get('e') ?? 0) / 400;
    // Weight 10 % against four at 100 %: about 2.4 % of the requests; round robin would give it 20 %.
    assert.ok(share > 0 && share < 0.1, `the new replica took ${(share * 100).toFixed(1)} %`);
  } finally {
    await gw.write(yaml(''));
    await gw.instance.reload();
    await fresh.close();
  }
});

test('bad loadBalancer input is refused with the field named', async () => {
  await gw.write(yaml(route('bad-route', '/bad') + policy('bad-policy', 'bad-route', 'type: ConsistentHash\nconsistentHash:\n  type: Header\n  tableSize: 100')));
  try {
    assert.equal(await gw.instance.reload(), false);
    // The running configuration keeps serving.
    assert.equal((await get('/round')).status, 200);
  } finally {
    await gw.write(yaml(''));
    assert.equal(await gw.instance.reload(), true);
  }
});
