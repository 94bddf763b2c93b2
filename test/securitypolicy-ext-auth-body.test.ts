// SecurityPolicy extAuth.bodyToExtAuth over real sockets, with real HTTP and
// gRPC (envoy.service.auth.v3) authorizers that decide on the body they were
// sent. Envoy Gateway maps maxRequestBytes to Envoy's with_request_body with
// no partial message: a body within the bound goes to the authorizer whole
// (HTTP: as the check request's body; gRPC: attributes.request.http.body),
// the backend still gets every byte after an allow, and a body over the bound
// is 413 without a check, even with failOpen.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { assertBackendGot, assertDenied, postBody, startBodyAuthorizers, type BodyAuthorizers } from './helpers/body-authorizers.ts';
import { egQuickstart } from './helpers/eg-quickstart.ts';

let gw: TestGateway;
let port = 0;
let authz: BodyAuthorizers;
/** What each authorizer was sent. */
const checks: { via: string; body: Buffer; partial?: string; length?: string; path?: string }[] = [];

before(async () => {
  authz = await startBodyAuthorizers({
    http: (body, req) =>
      checks.push({ via: 'http', body, partial: req.headers['x-envoy-auth-partial-body'] as string | undefined, length: req.headers['content-length'], path: req.url }),
    grpc: (via, body) => checks.push({ via, body }),
  });
  port = await freePort();
  gw = await startGateway(config('http', ''));
});

after(async () => {
  await gw?.close();
  await authz?.close();
});

/** Envoy Gateway's ext auth task (HTTP or gRPC authorizer) with bodyToExtAuth.maxRequestBytes: 16. */
function config(kind: 'http' | 'grpc', extra: string): string {
  const svc = kind === 'http' ? 'http-ext-auth' : 'grpc-ext-auth';
  const authzPort = kind === 'http' ? authz.httpAuthzPort : authz.grpcAuthzPort;
  return egQuickstart(port, authz.backendPort, { extra: `---
apiVersion: v1
kind: Service
metadata: { name: ${svc}, namespace: default }
spec: { ports: [{ port: 9002 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${svc}-1, namespace: default, labels: { kubernetes.io/service-name: ${svc} } }
addressType: IPv4
ports: [{ port: ${authzPort} }]
endpoints: [{ addresses: [127.0.0.1] }]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: ext-auth-example
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      name: backend
  extAuth:${extra}
    bodyToExtAuth:
      maxRequestBytes: 16
    ${kind}:
      backendRefs:
        - name: ${svc}
          port: 9002
` });
}

async function load(yaml: string): Promise<void> {
  await gw.write(yaml);
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

const post = (body: Buffer, chunked = false) =>
  postBody(`http://127.0.0.1:${port}/upload?x=1`, body, chunked, { host: 'www.example.com', 'content-type': 'application/json' });

test('HTTP authorizer: the body is the check request\'s body; after an allow the backend gets it unchanged', async () => {
  for (const chunked of [false, true]) {
    checks.length = 0;
    const body = Buffer.from('allow: {"a":1}');
    const r = await post(body, chunked);
    assertBackendGot(r, body);
    assert.deepEqual(checks, [{ via: 'http', body, partial: 'false', length: String(body.length), path: '/upload?x=1' }]);
  }
  checks.length = 0;
  const denied = await post(Buffer.from('deny: {"a":1}'));
  assertDenied(denied);
  assert.equal(checks.length, 1);
});

test('a body over maxRequestBytes is 413 and never checked, failOpen or not', async () => {
  for (const extra of ['', '\n    failOpen: true']) {
    await load(config('http', extra));
    for (const chunked of [false, true]) {
      checks.length = 0;
      const r = await post(Buffer.from('allow: but this is longer than sixteen bytes'), chunked);
      assert.equal(r.status, 413);
      assert.equal(checks.length, 0);
    }
  }
  // Exactly the bound is within it.
  checks.length = 0;
  assert.equal((await post(Buffer.from('allow: 16 bytes!'))).status, 200);
  assert.equal(checks[0].body.length, 16);
});

test('a GET without a body is checked with an empty body', async () => {
  await load(config('http', ''));
  checks.length = 0;
  const r = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'www.example.com' } });
  await r.body.text();
  assert.equal(r.statusCode, 403, 'the empty body does not start with "allow"');
  assert.equal(checks.length, 1);
  assert.equal(checks[0].body.length, 0);
});

test('gRPC authorizer: the body arrives in attributes.request.http.body as UTF-8', async () => {
  await load(config('grpc', ''));
  for (const chunked of [false, true]) {
    checks.length = 0;
    const body = Buffer.from('allow: é ✓');
    const r = await post(body, chunked);
    assertBackendGot(r, body);
    assert.deepEqual(checks, [{ via: 'grpc', body }]);
  }
  checks.length = 0;
  const denied = await post(Buffer.from('nope'));
  assertDenied(denied);
  checks.length = 0;
  assert.equal((await post(Buffer.from('allow: longer than sixteen bytes'))).status, 413);
  assert.equal(checks.length, 0);
});

test('the status no longer names bodyToExtAuth as not served', async () => {
  const cfg = (await (await fetch(`${gw.adminUrl}/config`)).json()) as { status?: { object: string }[] };
  const st = JSON.stringify((cfg.status ?? []).find((s) => s.object === 'SecurityPolicy/default/ext-auth-example'));
  assert.ok(st.length > 2, 'the policy has a status');
  assert.doesNotMatch(st, /bodyToExtAuth/);
});
