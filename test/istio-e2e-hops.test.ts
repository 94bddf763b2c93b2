// Two hops over real sockets: examples/istio/two-hops.yaml (gateway policy ∩
// destination policy, a Service selected by its pods' labels and one by
// targetRefs), then which policies reach which hop: root namespace, other
// namespaces, a Gateway targetRef, an Envoy Gateway Backend selected by labels.
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

const example = () => exampleYaml('two-hops.yaml', { 8080: port, 9081: v1.port, 9082: v2.port });

/** The example without its policies, plus `extra`. */
async function loadWith(extra: string): Promise<void> {
  const infra = parseAllDocuments(example())
    .filter((d) => (d.toJS() as { kind: string }).kind !== 'AuthorizationPolicy')
    .map((d) => d.toString())
    .join('---\n');
  await gw.write(`${infra}---\n${extra}`);
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

const policy = (ns: string, name: string, body: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: ${ns} }
spec:
${body}
---
`;

before(async () => {
  v1 = await startEcho('v1');
  v2 = await startEcho('v2');
  port = await freePort();
  gw = await startGateway(example());
});

after(async () => {
  await gw?.close();
  await v1?.close();
  await v2?.close();
});

test('both hops allow: GET /api/x reaches httpbin', async () => {
  const r = await send(port, '/api/x');
  assert.equal(r.status, 200);
  assert.equal(r.json().backend, 'v1');
});

test('two ALLOW policies on different hops intersect: POST /api/x passes the gateway, httpbin refuses it', async () => {
  const r = await send(port, '/api/x', { method: 'POST', body: '{}' });
  assert.equal(r.status, 403);
  assert.equal(r.body, 'RBAC: access denied');
});

test('…and GET /other, which httpbin would serve, is refused by the gateway', async () => {
  assert.equal((await send(port, '/other')).status, 403);
});

test('targetRefs Service: admin answers only callers that come through the gateway and say x-role: admin', async () => {
  assert.equal((await send(port, '/admin/users')).status, 403);
  assert.equal((await send(port, '/admin/users', { headers: { 'x-role': 'user' } })).status, 403);
  const r = await send(port, '/admin/users', { headers: { 'x-role': 'admin' } });
  assert.equal(r.status, 200);
  assert.equal(r.json().backend, 'v2');
});

test('a root-namespace policy without selector applies to every hop; one in another namespace to none', async () => {
  await loadWith(
    policy('istio-system', 'mesh-deny', '  action: DENY\n  rules:\n  - when:\n    - key: request.headers[x-block]\n      values: ["*"]') +
      policy('bar', 'bar-deny-all', '  action: DENY\n  rules:\n  - {}'),
  );
  assert.equal((await send(port, '/api/x')).status, 200, 'bar policies do not reach foo');
  assert.equal((await send(port, '/api/x', { headers: { 'x-block': '1' } })).status, 403);
  assert.equal((await send(port, '/admin/x', { headers: { 'x-block': '' } })).status, 403, '"*" on a header is presence');
});

test('a root-namespace policy with a selector applies to matching hops in every namespace', async () => {
  await loadWith(policy('istio-system', 'httpbin-get', '  selector:\n    matchLabels:\n      app: httpbin\n  rules:\n  - to:\n    - operation:\n        methods: ["GET"]'));
  assert.equal((await send(port, '/api/x')).status, 200);
  assert.equal((await send(port, '/api/x', { method: 'DELETE' })).status, 403);
  assert.equal((await send(port, '/admin/x', { method: 'DELETE' })).status, 200, 'admin is not app: httpbin');
});

test('targetRefs Gateway: the policy runs on that gateway\'s hop, for every route', async () => {
  await loadWith(policy('foo', 'gateway-deny', '  targetRefs:\n  - group: gateway.networking.k8s.io\n    kind: Gateway\n    name: httpbin-gateway\n  action: DENY\n  rules:\n  - to:\n    - operation:\n        methods: ["DELETE"]'));
  assert.equal((await send(port, '/api/x', { method: 'DELETE' })).status, 403);
  assert.equal((await send(port, '/admin/x', { method: 'DELETE' })).status, 403);
  assert.equal((await send(port, '/admin/x', { method: 'PUT', body: '' })).status, 200);
});

test('an Envoy Gateway Backend is a destination hop too, selected by its labels', async () => {
  const backend = `apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: legacy, namespace: foo, labels: { app: legacy } }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${v2.port} } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: legacy, namespace: foo }
spec:
  parentRefs: [{ name: httpbin-gateway }]
  rules:
  - matches: [{ path: { type: PathPrefix, value: /legacy } }]
    backendRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: legacy }]
---
`;
  await loadWith(backend + policy('foo', 'legacy-from-foo', '  selector:\n    matchLabels:\n      app: legacy\n  rules:\n  - from:\n    - source:\n        namespaces: ["foo"]\n    to:\n    - operation:\n        methods: ["GET"]'));
  const r = await send(port, '/legacy/x');
  assert.equal(r.status, 200, 'the caller at that hop is the gateway, from namespace foo');
  assert.equal(r.json().backend, 'v2');
  assert.equal((await send(port, '/legacy/x', { method: 'POST', body: '' })).status, 403);
});

test('PeerAuthentication STRICT on a plaintext gateway: every connection is reset, as Istio would (no answer, no hang)', async () => {
  await loadWith(`apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: { name: default, namespace: foo }
spec:
  mtls:
    mode: STRICT
---
`);
  await assert.rejects(send(port, '/api/x'), (e: NodeJS.ErrnoException) => {
    assert.match(`${e.code} ${e.message}`, /ECONNRESET|socket hang up/);
    return true;
  });
  await loadWith('');
  assert.equal((await send(port, '/api/x')).status, 200, 'PERMISSIVE again: served');
});
