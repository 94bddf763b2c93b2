// A fleet on one etcd: two Portcullis instances, a change through either's
// API is enforced by both within a second; optimistic concurrency and watch
// resume behave as on the Kubernetes API server (410 after compaction).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { Etcd3 } from 'etcd3';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { startManaged, until, type ManagedGateway } from './helpers/management.ts';
import { startEtcd, type Etcd } from './helpers/etcd.ts';
import { startSingle } from '../src/runtime/single.ts';
import { StartupError } from '../src/runtime/single.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';

let etcd: Etcd;
let up: Upstream;
const gws: { gw: ManagedGateway; port: number }[] = [];
const AP = '/apis/security.istio.io/v1/namespaces/default/authorizationpolicies';
const prefix = `/portcullis-test-${process.pid}/`;

const deny = (name: string, path: string) => ({
  apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name },
  spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }], action: 'DENY', rules: [{ to: [{ operation: { paths: [path] } }] }] },
});

async function status(port: number, path: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${port}${path}`);
  await r.body.dump();
  return r.statusCode;
}

before(async () => {
  [etcd, up] = await Promise.all([startEtcd(), startUpstream('v1')]);
  for (let i = 0; i < 2; i++) {
    const port = await freePort();
    const gw = await startManaged(gatewayYaml(port, { v1: up.port }, routeTo('v1')), { store: 'etcd', etcdEndpoints: [etcd.endpoint], etcdPrefix: prefix });
    gws.push({ gw, port });
  }
});

after(async () => {
  for (const { gw } of gws) await gw.close();
  await up?.close();
  await etcd?.close();
});

test('two instances on one etcd: a policy created through one is enforced by both within a second', async () => {
  const [a, b] = gws;
  assert.equal(await status(b.port, '/fleet'), 200);
  // Warm-up: the first policy loads the authorization filter's code (lazily, per process); time the next one.
  assert.equal((await a.gw.api.call('POST', AP, deny('warm', '/warm'))).status, 201);
  await until('the warm-up policy on both', async () => (await status(a.port, '/warm')) === 403 && (await status(b.port, '/warm')) === 403);
  const t0 = Date.now();
  assert.equal((await a.gw.api.call('POST', AP, deny('fleet', '/fleet'))).status, 201);
  await until('both instances to deny', async () => (await status(a.port, '/fleet')) === 403 && (await status(b.port, '/fleet')) === 403);
  const took = Date.now() - t0;
  assert.ok(took < 1000, `took ${took} ms`);
  // b sees the object a wrote, with etcd's revision as resourceVersion
  const fromB = await b.gw.api.call('GET', `${AP}/fleet`);
  assert.equal(fromB.status, 200);
  assert.match(fromB.body.metadata.resourceVersion, /^\d+$/);
  const t1 = Date.now();
  assert.equal((await b.gw.api.call('DELETE', `${AP}/fleet`)).status, 200);
  await until('both instances to lift it', async () => (await status(a.port, '/fleet')) === 200 && (await status(b.port, '/fleet')) === 200);
  assert.ok(Date.now() - t1 < 1000);
});

test('writers racing through two instances: one wins, the others get 409; a stale resourceVersion is 409', async () => {
  const [a, b] = gws;
  const created = (await a.gw.api.call('POST', AP, deny('race', '/r'))).body;
  const put = (gw: ManagedGateway, p: string) => gw.api.call('PUT', `${AP}/race`, { ...created, spec: { ...created.spec, rules: [{ to: [{ operation: { paths: [p] } }] }] } });
  const results = await Promise.all([put(a.gw, '/1'), put(b.gw, '/2'), put(a.gw, '/3'), put(b.gw, '/4')]);
  assert.deepEqual(results.map((r) => r.status).sort(), [200, 409, 409, 409]);
  assert.equal((await b.gw.api.call('POST', AP, deny('race', '/r'))).status, 409, 'AlreadyExists through the other instance');
  const list = await a.gw.api.call('GET', `${AP}?limit=1`);
  assert.equal(list.body.items.length, 1);
  await a.gw.api.call('DELETE', `${AP}/race`);
});

test('watch through etcd resumes from a resourceVersion; one compacted away gets 410 Expired', async () => {
  const [a, b] = gws;
  const first = (await a.gw.api.call('POST', AP, deny('w', '/w'))).body;
  await a.gw.api.call('PATCH', `${AP}/w`, { metadata: { labels: { v: '2' } } }, { contentType: 'application/merge-patch+json' });
  await a.gw.api.call('DELETE', `${AP}/w`);
  const r = await request(`${b.gw.adminUrl}${AP}?watch=true&timeoutSeconds=1&resourceVersion=${first.metadata.resourceVersion}`, { headers: { authorization: `Bearer ${b.gw.token}` } });
  const events = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(events.map((e) => e.type), ['MODIFIED', 'DELETED']);


  // An instance started later serves the same resume from etcd's own history, until it is compacted.
  const p3 = await freePort();
  const c = await startManaged(gatewayYaml(p3, { v1: up.port }, routeTo('v1')), { store: 'etcd', etcdEndpoints: [etcd.endpoint], etcdPrefix: prefix });
  try {
    const fromC = await request(`${c.adminUrl}${AP}?watch=true&timeoutSeconds=1&resourceVersion=${first.metadata.resourceVersion}`, { headers: { authorization: `Bearer ${c.token}` } });
    assert.deepEqual((await fromC.body.text()).trim().split('\n').map((l) => JSON.parse(l).type), ['MODIFIED', 'DELETED']);
    const client = new Etcd3({ hosts: etcd.endpoint });
    try {
      const rev = (await client.kv.range({ key: Buffer.from(prefix), limit: 1 })).header.revision;
      await client.kv.compact({ revision: rev, physical: true });
    } finally {
      client.close();
    }
    const old = await request(`${c.adminUrl}${AP}?watch=true&timeoutSeconds=1&resourceVersion=${first.metadata.resourceVersion}`, { headers: { authorization: `Bearer ${c.token}` } });
    const ev = JSON.parse((await old.body.text()).trim().split('\n')[0]);
    assert.equal(ev.type, 'ERROR');
    assert.equal(ev.object.code, 410);
    assert.equal(ev.object.reason, 'Expired');
  } finally {
    await c.close();
  }
});

test('an unreachable etcd stops the start with a clear error', async () => {
  const dead = `http://127.0.0.1:${await freePort()}`;
  await assert.rejects(
    startSingle({
      paths: [], watch: false, admin: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', accessLog: 'off', workers: 1, drainMs: 100, print: () => {},
      translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' },
      management: { dataDir: gws[0].gw.dataDir, store: 'etcd', etcdEndpoints: [dead], allowAnonymous: false, audit: 'off' },
    }),
    (err: Error) => err instanceof StartupError && /etcd/.test(err.message) && /does not answer/.test(err.message),
  );
});
