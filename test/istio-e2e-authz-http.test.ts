// Istio task "HTTP Traffic" over real sockets: examples/istio/authz-http.yaml
// (Bookinfo behind its Gateway API gateway), applied step by step as the task
// page does — each step is the example file with the later policies left out,
// reloaded into one running gateway.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { exampleYaml, send } from './helpers/istio-e2e.ts';

let v1: EchoServer;
let v2: EchoServer;
let gw: TestGateway;
let port = 0;
let full = '';

const POLICIES = ['allow-nothing', 'productpage-viewer', 'bookinfo-gateway-viewer', 'details-viewer', 'reviews-viewer', 'ratings-viewer'];

/** The example with only the first `n` of the task's policies. */
function step(n: number): string {
  const keep = new Set(POLICIES.slice(0, n));
  return parseAllDocuments(full)
    .filter((d) => {
      const r = d.toJS() as { kind: string; metadata: { name: string } };
      return r.kind !== 'AuthorizationPolicy' || keep.has(r.metadata.name);
    })
    .map((d) => d.toString())
    .join('---\n');
}

async function apply(n: number): Promise<void> {
  await gw.write(step(n));
  assert.equal(await gw.instance.reload(), true, 'the step loads');
}

before(async () => {
  v1 = await startEcho('v1');
  v2 = await startEcho('v2');
  port = await freePort();
  full = exampleYaml('authz-http.yaml', { 8080: port, 9081: v1.port, 9082: v2.port });
  gw = await startGateway(step(0));
});

after(async () => {
  await gw?.close();
  await v1?.close();
  await v2?.close();
});

test('before any policy: every Bookinfo service answers', async () => {
  for (const p of ['/productpage', '/details/0', '/reviews/0', '/ratings/0']) {
    assert.equal((await send(port, p)).status, 200, p);
  }
});

test('allow-nothing: every request is refused with 403 RBAC: access denied, the gateway included', async () => {
  await apply(1);
  for (const p of ['/productpage', '/details/0', '/api/v1/products']) {
    const r = await send(port, p);
    assert.equal(r.status, 403, p);
    assert.equal(r.body, 'RBAC: access denied');
  }
});

test('productpage-viewer alone is not enough behind a gateway in the same namespace: allow-nothing selects the gateway too', async () => {
  await apply(2);
  assert.equal((await send(port, '/productpage')).status, 403);
});

test('bookinfo-gateway-viewer: GET /productpage passes both hops; POST is refused', async () => {
  await apply(3);
  const r = await send(port, '/productpage');
  assert.equal(r.status, 200);
  assert.equal(r.json().backend, 'v1');
  assert.equal(r.json().url, '/productpage');
  assert.equal((await send(port, '/productpage', { method: 'POST', body: '{}' })).status, 403);
  // Exact /productpage only: a longer path is no route at all.
  assert.equal((await send(port, '/productpage/x')).status, 404);
});

test('the final state: details, reviews and ratings only answer their callers — the gateway is not one (two hops intersect)', async () => {
  await apply(POLICIES.length);
  assert.equal((await send(port, '/productpage')).status, 200);
  assert.equal((await send(port, '/api/v1/products/0')).status, 200);
  for (const p of ['/details/0', '/reviews/0', '/ratings/0']) {
    const r = await send(port, p);
    // The gateway hop allows GET; the service's viewer wants bookinfo-productpage (or -reviews),
    // and the caller at that hop is cluster.local/ns/default/sa/bookinfo-gateway-istio.
    assert.equal(r.status, 403, p);
    assert.equal(r.body, 'RBAC: access denied');
  }
});
