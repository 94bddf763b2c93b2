// The management API over real sockets: every verb and error answer,
// selectors, paging, watch and its resume, optimistic concurrency, auth,
// the translator's status, and changes reaching the data plane.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { request } from 'undici';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { startManaged, apiClient, until, denyPolicy, POLICIES_PATH as AP, type ManagedGateway } from './helpers/management.ts';
import { statusAt } from './helpers/requests.ts';

let gw: ManagedGateway;
let up: Upstream;
let port: number;

const status = (path: string) => statusAt(port, path);

before(async () => {
  up = await startUpstream('v1');
  port = await freePort();
  gw = await startManaged(gatewayYaml(port, { v1: up.port }, routeTo('v1')), { tokenSecret: 'portcullis-system/admin-tokens' });
});

after(async () => {
  await gw?.close();
  await up?.close();
});

test('discovery lists every kind of the registry, and /version is public', async () => {
  const groups = await gw.api.call('GET', '/apis');
  assert.equal(groups.status, 200);
  const names = groups.body.groups.map((g: { name: string }) => g.name);
  for (const g of ['gateway.networking.k8s.io', 'security.istio.io', 'gateway.envoyproxy.io', 'discovery.k8s.io']) assert.ok(names.includes(g), g);
  const istio = await gw.api.call('GET', '/apis/security.istio.io/v1');
  assert.deepEqual(istio.body.resources.filter((r: { name: string }) => !r.name.includes('/')).map((r: { kind: string }) => r.kind).sort(), ['AuthorizationPolicy', 'PeerAuthentication', 'RequestAuthentication']);
  const core = await gw.api.call('GET', '/api/v1');
  assert.ok(core.body.resources.some((r: { name: string; namespaced: boolean }) => r.name === 'namespaces' && !r.namespaced));
  const v = await gw.api.call('GET', '/version', undefined, { token: null });
  assert.equal(v.status, 200);
  assert.equal(v.body.major, '1');
  const oa = await gw.api.call('GET', '/openapi/v3');
  const url = oa.body.paths['apis/security.istio.io/v1'].serverRelativeURL as string;
  const doc = await gw.api.call('GET', url);
  assert.ok(doc.body.components.schemas['io.istio.security.v1.AuthorizationPolicy'].properties.spec);
});

/** The length-delimited fields of a protobuf message, by field number (what gnostic's Document holds here). */
function protoFields(buf: Buffer): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  const varint = (at: number): [number, number] => {
    let n = 0;
    let shift = 0;
    for (;;) {
      const b = buf[at++];
      n += (b & 0x7f) * 2 ** shift;
      shift += 7;
      if (b < 0x80) return [n, at];
    }
  };
  for (let i = 0; i < buf.length; ) {
    const [tag, a] = varint(i);
    assert.equal(tag & 7, 2, 'only length-delimited fields');
    const [len, b] = varint(a);
    out.set(tag >> 3, buf.subarray(b, b + len));
    i = b + len;
  }
  return out;
}

test('OpenAPI v2, as kubectl before 1.27 reads it before every apply: protobuf (gnostic Document) or JSON', async () => {
  const r = await request(`${gw.adminUrl}/openapi/v2?timeout=32s`, { headers: { authorization: `Bearer ${gw.token}`, accept: 'application/com.github.proto-openapi.spec.v2@v1.0+protobuf' } });
  assert.equal(r.statusCode, 200);
  assert.equal(r.headers['content-type'], 'application/com.github.proto-openapi.spec.v2.v1.0+protobuf');
  const doc = protoFields(Buffer.from(await r.body.arrayBuffer()));
  assert.equal(doc.get(1)?.toString(), '2.0', 'swagger = 1');
  assert.equal(protoFields(doc.get(2)!).get(1)?.toString(), 'Portcullis management API', 'info.title');
  assert.ok(doc.has(8), 'paths = 8');
  const json = await gw.api.call('GET', '/openapi/v2');
  assert.equal(json.status, 200);
  assert.equal(json.body.swagger, '2.0');
  assert.equal((await gw.api.call('GET', '/openapi/v2', undefined, { token: null })).status, 401);
});

test('without a valid token: 401 Status on resources and /config; health and metrics stay open', async () => {
  for (const token of [null, 'not-the-token']) {
    const r = await gw.api.call('GET', AP, undefined, { token });
    assert.equal(r.status, 401);
    assert.equal(r.body.kind, 'Status');
    assert.equal(r.body.reason, 'Unauthorized');
    const c = await gw.api.call('GET', '/config', undefined, { token });
    assert.equal(c.status, 401);
  }
  assert.equal((await gw.api.call('POST', AP, denyPolicy('anon', '/x'), { token: null })).status, 401);
  assert.equal((await gw.api.call('GET', '/config')).status, 200);
  for (const p of ['/healthz', '/readyz', '/metrics']) assert.equal((await gw.api.call('GET', p, undefined, { token: null })).status, 200, p);
  const tokenFile = await readFile(join(gw.dataDir, 'admin-token'));
  assert.ok(tokenFile.length > 30);
});

test('create, get, list, replace, merge/JSON patch, delete; errors are Status objects', async () => {
  const created = await gw.api.call('POST', AP, denyPolicy('p1', '/blocked', { team: 'a' }));
  assert.equal(created.status, 201);
  const md = created.body.metadata;
  assert.match(md.uid, /^[0-9a-f-]{36}$/);
  assert.match(md.resourceVersion, /^\d+$/);
  assert.equal(md.generation, 1);
  assert.match(md.creationTimestamp, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  assert.equal(md.namespace, 'default');

  const dup = await gw.api.call('POST', AP, denyPolicy('p1', '/blocked'));
  assert.equal(dup.status, 409);
  assert.equal(dup.body.reason, 'AlreadyExists');
  assert.deepEqual(dup.body.details, { name: 'p1', group: 'security.istio.io', kind: 'authorizationpolicies' });

  const missing = await gw.api.call('GET', `${AP}/nope`);
  assert.equal(missing.status, 404);
  assert.equal(missing.body.reason, 'NotFound');
  assert.equal(missing.body.message, 'authorizationpolicies.security.istio.io "nope" not found');

  const bad = denyPolicy('p2', '/x') as any;
  bad.spec.action = 'BLOCK';
  bad.spec.bogus = true;
  const invalid = await gw.api.call('POST', AP, bad);
  assert.equal(invalid.status, 422);
  assert.equal(invalid.body.reason, 'Invalid');
  const fields = invalid.body.details.causes.map((c: { field: string }) => c.field).sort();
  assert.deepEqual(fields, ['spec.action', 'spec.bogus']);

  // status is the translator's, written once the change was built (as a controller would, shortly after)
  const got = await until('the translator\'s status', async () => {
    const r = await gw.api.call('GET', `${AP}/p1`);
    return r.body.status ? r : undefined;
  });
  assert.equal(got.body.metadata.resourceVersion, md.resourceVersion);
  assert.equal(got.body.status.conditions.find((c: { type: string }) => c.type === 'Accepted').status, 'True');
  assert.equal(got.body.status.conditions[0].observedGeneration, 1);

  // replace with a stale resourceVersion: 409 Conflict; with the current one: accepted, generation 2
  const replaced = { ...got.body, spec: { ...got.body.spec, rules: [{ to: [{ operation: { paths: ['/blocked', '/also'] } }] }] } };
  const put = await gw.api.call('PUT', `${AP}/p1`, replaced);
  assert.equal(put.status, 200);
  const stale = await gw.api.call('PUT', `${AP}/p1`, { ...replaced, spec: got.body.spec });
  assert.equal(stale.status, 409, 'the resourceVersion the first replace was based on is stale now');
  assert.equal(stale.body.reason, 'Conflict');
  assert.match(stale.body.message, /the object has been modified/);
  assert.equal(put.body.metadata.generation, 2);
  assert.ok(Number(put.body.metadata.resourceVersion) > Number(md.resourceVersion));
  assert.equal(put.body.metadata.uid, md.uid);

  const merged = await gw.api.call('PATCH', `${AP}/p1`, { metadata: { labels: { team: 'b' } } }, { contentType: 'application/merge-patch+json' });
  assert.equal(merged.status, 200);
  assert.equal(merged.body.metadata.labels.team, 'b');
  assert.equal(merged.body.metadata.generation, 2, 'a metadata change leaves generation alone');
  const jp = await gw.api.call('PATCH', `${AP}/p1`, [{ op: 'replace', path: '/spec/rules/0/to/0/operation/paths/1', value: '/other' }], { contentType: 'application/json-patch+json' });
  assert.equal(jp.status, 200);
  assert.deepEqual(jp.body.spec.rules[0].to[0].operation.paths, ['/blocked', '/other']);
  const jpBad = await gw.api.call('PATCH', `${AP}/p1`, [{ op: 'remove', path: '/spec/nothing' }], { contentType: 'application/json-patch+json' });
  assert.equal(jpBad.status, 422);
  const badType = await gw.api.call('PATCH', `${AP}/p1`, '{}', { contentType: 'text/plain' });
  assert.equal(badType.status, 415);
  const badJson = await gw.api.call('POST', AP, '{"apiVersion": ', {});
  assert.equal(badJson.status, 400);
  assert.equal(badJson.body.reason, 'BadRequest');
  const wrongNs = await gw.api.call('POST', AP, { ...denyPolicy('p3', '/x'), metadata: { name: 'p3', namespace: 'other' } });
  assert.equal(wrongNs.status, 400);

  const del = await gw.api.call('DELETE', `${AP}/p1`);
  assert.equal(del.status, 200);
  assert.equal((await gw.api.call('GET', `${AP}/p1`)).status, 404);
  assert.equal((await gw.api.call('DELETE', `${AP}/p1`)).status, 404);
  const log = (await readFile(join(gw.dataDir, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
  const mine = log.filter((e) => e.name === 'p1');
  assert.deepEqual(mine.map((e) => e.verb), ['create', 'update', 'patch', 'patch', 'delete']);
  assert.equal(mine[0].user, 'admin');
  assert.equal(mine[1].oldResourceVersion, md.resourceVersion);
  assert.equal(mine.at(-1).newResourceVersion, undefined);
});

test('an applied policy changes what the gateway enforces within a second; delete lifts it', async () => {
  assert.equal(await status('/secret'), 200);
  // Warm-up: the first policy loads the authorization filter's code (lazily, per process); time the next one.
  assert.equal((await gw.api.call('POST', AP, denyPolicy('warm', '/warm'))).status, 201);
  await until('the warm-up policy', async () => (await status('/warm')) === 403);
  assert.equal((await gw.api.call('DELETE', `${AP}/warm`)).status, 200);
  const t0 = Date.now();
  assert.equal((await gw.api.call('POST', AP, denyPolicy('block-secret', '/secret'))).status, 201);
  await until('the DENY policy to apply', async () => (await status('/secret')) === 403);
  assert.ok(Date.now() - t0 < 1000, `applied in ${Date.now() - t0} ms`);
  assert.equal(await status('/open'), 200);
  const t1 = Date.now();
  assert.equal((await gw.api.call('DELETE', `${AP}/block-secret`)).status, 200);
  await until('the DENY policy to lift', async () => (await status('/secret')) === 200);
  assert.ok(Date.now() - t1 < 1000, `lifted in ${Date.now() - t1} ms`);
});

test('a store change is not held up by the -f files: while a file is being rewritten nonstop, it is still enforced within a second', async () => {
  // Settling (waiting for an editor's save to finish) is for file changes; a change from the API builds at once.
  const text = await readFile(gw.file, 'utf8');
  let touching = true;
  const touch = (async () => {
    while (touching) {
      await writeFile(gw.file, text);
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  try {
    const t0 = Date.now();
    assert.equal((await gw.api.call('POST', AP, denyPolicy('while-touched', '/touched'))).status, 201);
    await until('the DENY policy to apply', async () => (await status('/touched')) === 403, 3000);
    assert.ok(Date.now() - t0 < 1000, `applied in ${Date.now() - t0} ms`);
  } finally {
    touching = false;
    await touch;
  }
  assert.equal((await gw.api.call('DELETE', `${AP}/while-touched`)).status, 200);
  await until('the DENY policy to lift', async () => (await status('/touched')) === 200);
});

test('a change the translator rejects is stored with its error in status; the last good snapshot keeps serving', async () => {
  const before = (await gw.api.call('GET', '/config/version')).body.version;
  // Valid on its own (the schema passes), rejected by translate: a CUSTOM policy naming no known provider.
  const custom = {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'custom-unknown' },
    spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }], action: 'CUSTOM', provider: { name: 'nowhere' }, rules: [{ to: [{ operation: { paths: ['/x'] } }] }] },
  };
  assert.equal((await gw.api.call('POST', AP, custom)).status, 201);
  const st = await until('status to show the rejection', async () => {
    const r = await gw.api.call('GET', `${AP}/custom-unknown/status`);
    const c = r.body.status?.conditions?.find((x: { type: string }) => x.type === 'Accepted');
    return c?.status === 'False' ? c : undefined;
  });
  assert.match(st.message, /nowhere|provider/);
  assert.equal(await status('/anything'), 200, 'still serving');
  const cfg = (await gw.api.call('GET', '/config')).body;
  assert.ok(cfg.lastReload.ok === false || cfg.lastReload.policyErrors.length > 0 || cfg.version === before);
  assert.equal((await gw.api.call('DELETE', `${AP}/custom-unknown`)).status, 200);
});

test('/status carries the translator\'s per-parent (RouteStatus.parents) and per-ancestor (PolicyAncestorStatus) conditions', async () => {
  const HR = '/apis/gateway.networking.k8s.io/v1/namespaces/default/httproutes';
  const route = {
    apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute', metadata: { name: 'st-route' },
    spec: { parentRefs: [{ name: 'gw' }, { name: 'no-such-gateway' }], hostnames: ['status.example'], rules: [{ backendRefs: [{ group: 'gateway.envoyproxy.io', kind: 'Backend', name: 'v1' }] }] },
  };
  const sp = {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'SecurityPolicy', metadata: { name: 'st-cors' },
    spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'st-route' }], cors: { allowOrigins: ['https://a.example'] } },
  };
  assert.equal((await gw.api.call('POST', HR, route)).status, 201);
  assert.equal((await gw.api.call('POST', '/apis/gateway.envoyproxy.io/v1alpha1/namespaces/default/securitypolicies', sp)).status, 201);
  const parents = await until('the route\'s parents in status', async () => (await gw.api.call('GET', `${HR}/st-route/status`)).body.status?.parents);
  const byName = new Map(parents.map((p: { parentRef: { name: string } }) => [p.parentRef.name, p]));
  const accepted = (p: any) => p.conditions.find((c: { type: string }) => c.type === 'Accepted');
  const onGw: any = byName.get('gw');
  assert.deepEqual(onGw.parentRef, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'default', name: 'gw' });
  assert.equal(onGw.controllerName, 'portcullis.io/gateway-controller');
  assert.equal(accepted(onGw).status, 'True');
  assert.equal(typeof accepted(onGw).observedGeneration, 'number');
  const missing: any = byName.get('no-such-gateway');
  assert.ok(missing, JSON.stringify(parents));
  assert.equal(accepted(missing).status, 'False');
  const ancestors = await until('the policy\'s ancestors in status', async () => (await gw.api.call('GET', '/apis/gateway.envoyproxy.io/v1alpha1/namespaces/default/securitypolicies/st-cors/status')).body.status?.ancestors);
  assert.equal(ancestors[0].ancestorRef.kind, 'Gateway');
  assert.equal(ancestors[0].ancestorRef.name, 'gw');
  assert.equal(accepted(ancestors[0]).status, 'True');
  await gw.api.call('DELETE', '/apis/gateway.envoyproxy.io/v1alpha1/namespaces/default/securitypolicies/st-cors');
  await gw.api.call('DELETE', `${HR}/st-route`);
});

test('labelSelector (equality and set-based), fieldSelector, and limit/continue paging across namespaces', async () => {
  const ns = ['alpha', 'beta'];
  for (const n of ns) {
    for (let i = 0; i < 7; i++) {
      const p = denyPolicy(`sel-${i}`, `/sel/${i}`, { tier: i % 2 ? 'odd' : 'even', idx: String(i) });
      const r = await gw.api.call('POST', `/apis/security.istio.io/v1/namespaces/${n}/authorizationpolicies`, p);
      assert.equal(r.status, 201, JSON.stringify(r.body));
    }
  }
  const names = (r: { body: { items: { metadata: { namespace: string; name: string } }[] } }) => r.body.items.map((i) => `${i.metadata.namespace}/${i.metadata.name}`);
  const all = '/apis/security.istio.io/v1/authorizationpolicies';
  const q = async (query: string) => gw.api.call('GET', `${all}?${query}`);
  assert.equal((await q('labelSelector=tier%3Deven')).body.items.length, 8);
  assert.equal((await q('labelSelector=tier!%3Deven,idx')).body.items.length, 6);
  assert.equal((await q('labelSelector=idx%20in%20(1,2,3)')).body.items.length, 6);
  assert.equal((await q('labelSelector=idx%20notin%20(1,2,3),tier')).body.items.length, 8);
  assert.deepEqual(names(await q('labelSelector=!idx')), []);
  assert.equal((await q('labelSelector=idx%3E4')).body.items.length, 4);
  assert.equal((await q('labelSelector=%3D%3Dbroken')).status, 400);
  assert.deepEqual(names(await q('fieldSelector=metadata.name%3Dsel-3')), ['alpha/sel-3', 'beta/sel-3']);
  assert.deepEqual(names(await q('fieldSelector=metadata.namespace%3Dbeta,metadata.name!%3Dsel-0')).length, 6);
  assert.equal((await q('fieldSelector=spec.action%3DDENY')).status, 400);
  const perNs = await gw.api.call('GET', '/apis/security.istio.io/v1/namespaces/alpha/authorizationpolicies');
  assert.equal(perNs.body.kind, 'AuthorizationPolicyList');
  assert.equal(perNs.body.items.length, 7);

  // paging: 14 objects, 4 per page, with a selector that skips some
  const seen: string[] = [];
  let token = '';
  let pages = 0;
  do {
    const r = await q(`limit=4${token ? `&continue=${encodeURIComponent(token)}` : ''}&labelSelector=tier`);
    assert.ok(r.body.items.length <= 4);
    seen.push(...names(r));
    token = r.body.metadata.continue ?? '';
    pages++;
  } while (token);
  assert.equal(pages, 4);
  assert.deepEqual(seen, [...new Set(seen)].sort(), 'key order, no item twice');
  assert.equal(seen.length, 14);
  assert.equal((await q('limit=2&continue=garbage')).status, 400);
});

test('paging reads the first page\'s resourceVersion: writes between pages neither skip, duplicate nor show up', async () => {
  const PG = '/apis/security.istio.io/v1/namespaces/pg/authorizationpolicies';
  for (const n of ['b', 'd', 'f', 'h', 'j', 'l']) assert.equal((await gw.api.call('POST', PG, { ...denyPolicy(`pg-${n}`, `/${n}`), metadata: { name: `pg-${n}` } })).status, 201);
  const first = await gw.api.call('GET', `${PG}?limit=2`);
  assert.deepEqual(first.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['pg-b', 'pg-d']);
  const rv = first.body.metadata.resourceVersion;
  // Between the pages: one created before the cursor and one after, one deleted and one changed ahead of it.
  await gw.api.call('POST', PG, { ...denyPolicy('pg-a', '/a'), metadata: { name: 'pg-a' } });
  await gw.api.call('POST', PG, { ...denyPolicy('pg-g', '/g'), metadata: { name: 'pg-g' } });
  assert.equal((await gw.api.call('DELETE', `${PG}/pg-f`)).status, 200);
  assert.equal((await gw.api.call('PATCH', `${PG}/pg-j`, { metadata: { labels: { changed: 'yes' } } }, { contentType: 'application/merge-patch+json' })).status, 200);
  const rest: { metadata: { name: string; labels?: Record<string, string> } }[] = [];
  let token = first.body.metadata.continue as string;
  while (token) {
    const r = await gw.api.call('GET', `${PG}?limit=2&continue=${encodeURIComponent(token)}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.equal(r.body.metadata.resourceVersion, rv, 'every page at the first page\'s version');
    rest.push(...r.body.items);
    token = r.body.metadata.continue ?? '';
  }
  assert.deepEqual(rest.map((i) => i.metadata.name), ['pg-f', 'pg-h', 'pg-j', 'pg-l'], 'as at the first page: pg-f still there, pg-g not yet');
  assert.equal(rest[2].metadata.labels?.changed, undefined, 'pg-j as it was');
  // A new list sees the writes.
  assert.deepEqual((await gw.api.call('GET', PG)).body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['pg-a', 'pg-b', 'pg-d', 'pg-g', 'pg-h', 'pg-j', 'pg-l']);
  assert.equal((await gw.api.call('DELETE', PG)).status, 200);
});

test('watch streams events, resumes from a resourceVersion, and starts with the current objects without one', async () => {
  const list = await gw.api.call('GET', AP);
  const rv = list.body.metadata.resourceVersion as string;
  const events: { type: string; object: { metadata: { name: string; resourceVersion: string } } }[] = [];
  const ac = new AbortController();
  const res = await request(`${gw.adminUrl}${AP}?watch=true&resourceVersion=${rv}`, { headers: { authorization: `Bearer ${gw.token}` }, signal: ac.signal });
  assert.equal(res.statusCode, 200);
  let buf = '';
  const reading = (async () => {
    try {
      for await (const chunk of res.body) {
        buf += chunk;
        let nl;
        while ((nl = buf.indexOf('\n')) >= 0) {
          events.push(JSON.parse(buf.slice(0, nl)));
          buf = buf.slice(nl + 1);
        }
      }
    } catch {
      // aborted at the end of the test
    }
  })();
  await gw.api.call('POST', AP, denyPolicy('w1', '/w1'));
  await gw.api.call('PATCH', `${AP}/w1`, { metadata: { labels: { x: 'y' } } }, { contentType: 'application/merge-patch+json' });
  await gw.api.call('DELETE', `${AP}/w1`);
  await until('three events', async () => events.length >= 3);
  assert.deepEqual(events.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED w1', 'MODIFIED w1', 'DELETED w1']);
  ac.abort();
  await reading;

  // Resume from the version of the ADDED event: the two later events, nothing else.
  const from = events[0].object.metadata.resourceVersion;
  const r2 = await request(`${gw.adminUrl}${AP}?watch=1&resourceVersion=${from}&timeoutSeconds=1`, { headers: { authorization: `Bearer ${gw.token}` } });
  const text = await r2.body.text();
  const resumed = text.trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(resumed.map((e) => e.type), ['MODIFIED', 'DELETED']);

  // Without resourceVersion: the current objects first, as ADDED.
  const r3 = await request(`${gw.adminUrl}/apis/security.istio.io/v1/namespaces/alpha/authorizationpolicies?watch=true&timeoutSeconds=1&labelSelector=idx%3D1`, { headers: { authorization: `Bearer ${gw.token}` } });
  const initial = (await r3.body.text()).trim().split('\n').map((l) => JSON.parse(l));
  assert.deepEqual(initial.map((e) => `${e.type} ${e.object.metadata.name}`), ['ADDED sel-1']);
  const bad = await gw.api.call('GET', `${AP}?watch=true&resourceVersion=abc`);
  assert.equal(bad.status, 400);
});

test('watch with a labelSelector: an object that stops matching is DELETED, one that starts matching is ADDED (Kubernetes semantics)', async () => {
  const rv = (await gw.api.call('GET', AP)).body.metadata.resourceVersion as string;
  const relabel = (team: string) => gw.api.call('PATCH', `${AP}/sel-watch`, { metadata: { labels: { team } } }, { contentType: 'application/merge-patch+json' });
  assert.equal((await gw.api.call('POST', AP, denyPolicy('sel-watch', '/sel-watch', { team: 'a' }))).status, 201);
  assert.equal((await relabel('b')).status, 200);
  assert.equal((await relabel('c')).status, 200);
  assert.equal((await relabel('a')).status, 200);
  const last = await gw.api.call('PATCH', `${AP}/sel-watch`, { metadata: { annotations: { note: 'x' } } }, { contentType: 'application/merge-patch+json' });
  assert.equal((await gw.api.call('DELETE', `${AP}/sel-watch`)).status, 200);
  const r = await request(`${gw.adminUrl}${AP}?watch=true&resourceVersion=${rv}&timeoutSeconds=1&labelSelector=team%3Da`, { headers: { authorization: `Bearer ${gw.token}` } });
  const events = (await r.body.text()).trim().split('\n').map((l) => JSON.parse(l) as { type: string; object: { metadata: { labels: Record<string, string>; resourceVersion: string } } });
  assert.deepEqual(events.map((e) => `${e.type} team=${e.object.metadata.labels.team}`), ['ADDED team=a', 'DELETED team=a', 'ADDED team=a', 'MODIFIED team=a', 'DELETED team=a']);
  // The DELETED of "stopped matching" carries the object as it was, at the change's resourceVersion.
  assert.ok(Number(events[1].object.metadata.resourceVersion) > Number(events[0].object.metadata.resourceVersion));
  assert.equal(events[3].object.metadata.resourceVersion, last.body.metadata.resourceVersion);
});

test('deletecollection: DELETE on a collection with a labelSelector deletes what matches, and answers the list of it', async () => {
  const DC = '/apis/security.istio.io/v1/namespaces/dc/authorizationpolicies';
  for (const [name, del] of [['dc-1', 'yes'], ['dc-2', 'yes'], ['dc-3', 'no']]) {
    assert.equal((await gw.api.call('POST', DC, { ...denyPolicy(name, `/${name}`, { del }), metadata: { name, labels: { del } } })).status, 201);
  }
  const r = await gw.api.call('DELETE', `${DC}?labelSelector=del%3Dyes`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.kind, 'AuthorizationPolicyList');
  assert.deepEqual(r.body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['dc-1', 'dc-2']);
  assert.deepEqual((await gw.api.call('GET', DC)).body.items.map((i: { metadata: { name: string } }) => i.metadata.name), ['dc-3']);
  const audit = await readFile(join(gw.dataDir, 'audit.log'), 'utf8');
  assert.match(audit, /"verb":"delete".*"name":"dc-2"/);
  // Across namespaces it is refused, as POST is; the discovery document advertises the verb.
  assert.equal((await gw.api.call('DELETE', '/apis/security.istio.io/v1/authorizationpolicies?labelSelector=del')).status, 405);
  const disc = await gw.api.call('GET', '/apis/security.istio.io/v1');
  assert.ok(disc.body.resources.find((x: { name: string }) => x.name === 'authorizationpolicies').verbs.includes('deletecollection'));
  assert.equal((await gw.api.call('DELETE', DC)).body.items.length, 1, 'no selector: the whole collection');
});

test('two writers racing on one object: one wins, the other gets 409 Conflict', async () => {
  const created = await gw.api.call('POST', AP, denyPolicy('race', '/race'));
  const base = created.body;
  const attempts = await Promise.all(['/a', '/b', '/c', '/d'].map((p) =>
    gw.api.call('PUT', `${AP}/race`, { ...base, spec: { ...base.spec, rules: [{ to: [{ operation: { paths: [p] } }] }] } })));
  const codes = attempts.map((a) => a.status).sort();
  assert.deepEqual(codes, [200, 409, 409, 409]);
  for (const a of attempts.filter((x) => x.status === 409)) assert.equal(a.body.reason, 'Conflict');
  await gw.api.call('DELETE', `${AP}/race`);
});

test('a read-only token may read but not write (403 Forbidden); a token file replaces the generated token', async () => {
  const file = join(gw.dataDir, 'tokens.csv');
  await writeFile(file, 'admin-token-0123456789,ops,1\nviewer-token-0123456789,viewer,2,"portcullis:read-only,other"\n');
  const up2 = await startUpstream('v2');
  const p2 = await freePort();
  const other = await startManaged(gatewayYaml(p2, { v1: up2.port }, routeTo('v1')), { tokenFile: file });
  try {
    const viewer = apiClient(other.adminUrl, 'viewer-token-0123456789');
    const ops = apiClient(other.adminUrl, 'admin-token-0123456789');
    assert.equal((await viewer.call('GET', AP)).status, 200);
    const denied = await viewer.call('POST', AP, denyPolicy('v', '/v'));
    assert.equal(denied.status, 403);
    assert.equal(denied.body.reason, 'Forbidden');
    assert.match(denied.body.message, /User "viewer" cannot post/);
    assert.equal((await ops.call('POST', AP, denyPolicy('v', '/v'))).status, 201);
    const log = (await readFile(join(other.dataDir, 'audit.log'), 'utf8')).trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(log[0].user, 'ops');
  } finally {
    await other.close();
    await up2.close();
  }
});

test('bearer tokens from a Secret (--admin-token-secret): added, read-only, revoked by editing the Secret; the read-only role cannot read Secrets', async () => {
  const SECRETS = '/api/v1/namespaces/portcullis-system/secrets';
  const reader = apiClient(gw.adminUrl, 'reader-token-0123456789');
  const writer = apiClient(gw.adminUrl, 'writer-token-0123456789');
  assert.equal((await writer.call('GET', AP)).status, 401, 'no Secret yet: unknown token');
  const secret = (lines: string) => ({ apiVersion: 'v1', kind: 'Secret', metadata: { name: 'admin-tokens' }, data: { 'tokens.csv': Buffer.from(lines).toString('base64') } });
  const both = 'reader-token-0123456789,reader,r1,"portcullis:read-only"\nwriter-token-0123456789,writer,w1\n';
  assert.equal((await gw.api.call('POST', SECRETS, secret(both))).status, 201);
  await until('the Secret\'s tokens to be accepted', async () => (await writer.call('GET', AP)).status === 200);
  assert.equal((await reader.call('GET', AP)).status, 200);
  assert.equal((await reader.call('POST', AP, denyPolicy('by-reader', '/r'))).status, 403);
  const made = await writer.call('POST', AP, denyPolicy('by-writer', '/w'));
  assert.equal(made.status, 201);
  assert.match(await readFile(join(gw.dataDir, 'audit.log'), 'utf8'), /"user":"writer".*"name":"by-writer"/);
  // Read-only may not read Secrets (they hold these very tokens); it still reads ConfigMaps.
  for (const path of [SECRETS, `${SECRETS}/admin-tokens`, '/api/v1/secrets', `${SECRETS}?watch=true`]) {
    const r = await reader.call('GET', path);
    assert.equal(r.status, 403, path);
    assert.equal(r.body.reason, 'Forbidden');
  }
  assert.equal((await reader.call('GET', '/api/v1/configmaps')).status, 200);
  assert.equal((await writer.call('GET', `${SECRETS}/admin-tokens`)).status, 200);
  // Revoked: the writer's line removed from the Secret.
  const current = (await gw.api.call('GET', `${SECRETS}/admin-tokens`)).body;
  const t0 = Date.now();
  assert.equal((await gw.api.call('PUT', `${SECRETS}/admin-tokens`, { ...current, data: secret(both.split('\n')[0]).data })).status, 200);
  await until('the writer\'s token to be revoked', async () => (await writer.call('GET', AP)).status === 401);
  assert.ok(Date.now() - t0 < 1000, `revoked in ${Date.now() - t0} ms`);
  assert.equal((await reader.call('GET', AP)).status, 200);
  assert.equal((await gw.api.call('DELETE', `${AP}/by-writer`)).status, 200);
  assert.equal((await gw.api.call('DELETE', `${SECRETS}/admin-tokens`)).status, 200);
  await until('the reader\'s token to go with the Secret', async () => (await reader.call('GET', AP)).status === 401);
});

test('objects from -f files are listed read-only; writes to them are refused with 409', async () => {
  const gws = await gw.api.call('GET', '/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways');
  assert.deepEqual(gws.body.items.map((g: { metadata: { name: string } }) => g.metadata.name), ['gw']);
  assert.equal(gws.body.items[0].metadata.annotations['portcullis.io/read-only-source'], gw.file);
  const r = await gw.api.call('DELETE', '/apis/gateway.networking.k8s.io/v1/namespaces/default/gateways/gw');
  assert.equal(r.status, 409);
  assert.match(r.body.message, /read-only/);
  const c = await gw.api.call('POST', '/apis/gateway.envoyproxy.io/v1alpha1/namespaces/default/backends', { apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'Backend', metadata: { name: 'v1' }, spec: { endpoints: [{ ip: { address: '127.0.0.1', port: 1 } }] } });
  assert.equal(c.status, 409);
});

test('hostile input gets a clear error: oversized body, unknown paths and kinds, a bad continue token', async () => {
  const big = JSON.stringify({ ...denyPolicy('big', '/x'), pad: 'x'.repeat(4 * 1024 * 1024) });
  const r = await gw.api.call('POST', AP, big);
  assert.equal(r.status, 413);
  assert.equal((await gw.api.call('GET', '/apis/security.istio.io/v1/namespaces/default/widgets')).status, 404);
  assert.equal((await gw.api.call('GET', '/apis/nope.example/v1')).status, 404);
  assert.equal((await gw.api.call('GET', `${AP}/x/y/z`)).status, 404);
  assert.equal((await gw.api.call('PUT', `${AP}/p9`, denyPolicy('p9', '/x'))).status, 404);
  assert.equal((await gw.api.call('POST', '/apis/security.istio.io/v1/authorizationpolicies', denyPolicy('x', '/x'))).status, 405);
  assert.equal((await gw.api.call('PUT', `${AP}/x/status`, {})).status, 405);
  assert.equal((await gw.api.call('GET', '/readyz')).status, 200, 'still up');
});
