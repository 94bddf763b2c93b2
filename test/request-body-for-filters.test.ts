// Bodies where a filter needs them, over real sockets: Istio's
// includeRequestBodyInCheck on the task's CUSTOM policy (examples/istio/
// authz-custom.yaml) makes the chain read the body once, bounded, before the
// external authorizer decides; the authorizer gets it (whole or, with
// allowPartialMessage, its first maxRequestBytes), the backend gets every byte,
// and a body over the bound without allowPartialMessage is 413, never checked.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { assertBackendGot, assertDenied, postBody, startBodyAuthorizers, type BodyAuthorizers } from './helpers/body-authorizers.ts';
import { exampleYaml } from './helpers/istio-e2e.ts';

let gw: TestGateway;
let port = 0;
let authz: BodyAuthorizers;
/** What each authorizer was sent: the body (as bytes) and the partial flag. */
const checks: { via: string; body: Buffer; partial?: string }[] = [];

before(async () => {
  authz = await startBodyAuthorizers({
    http: (body, req) => checks.push({ via: 'http', body, partial: req.headers['x-envoy-auth-partial-body'] as string | undefined }),
    grpc: (via, body) => checks.push({ via, body }),
  });
  port = await freePort();
  gw = await startGateway(config('sample-ext-authz-http', '{ maxRequestBytes: 16, allowPartialMessage: true }'));
});

after(async () => {
  await gw?.close();
  await authz?.close();
});

/** The task's example, both providers reading the body as `bodySetting` says, the policy on `provider`. */
function config(provider: string, bodySetting: string): string {
  return exampleYaml('authz-custom.yaml', { 8080: port, 9081: authz.backendPort, 8000: authz.httpAuthzPort, 9000: authz.grpcAuthzPort }, {
    'includeRequestHeadersInCheck: ["x-ext-authz"]': `includeRequestHeadersInCheck: ["x-ext-authz"]\n        includeRequestBodyInCheck: ${bodySetting}`,
    'envoyExtAuthzGrpc:\n        service: "ext-authz.foo.svc.cluster.local"': `envoyExtAuthzGrpc:\n        service: "ext-authz.foo.svc.cluster.local"\n        includeRequestBodyInCheck: ${bodySetting}`,
    'name: sample-ext-authz-grpc\n  rules:': `name: ${provider}\n  rules:`,
  });
}

async function load(yaml: string): Promise<void> {
  await gw.write(yaml);
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

/** POST `body` to /headers (the CUSTOM rule's path), chunked when asked. */
const post = (body: Buffer, chunked = false) => postBody(`http://127.0.0.1:${port}/headers`, body, chunked);

test('a body within the bound goes to the authorizer whole and to the backend unchanged', async () => {
  for (const chunked of [false, true]) {
    checks.length = 0;
    const body = Buffer.from('allow: small');
    const r = await post(body, chunked);
    assertBackendGot(r, body);
    assert.deepEqual(checks, [{ via: 'http', body, partial: 'false' }]);
  }
  checks.length = 0;
  const denied = await post(Buffer.from('deny me'));
  assertDenied(denied);
  assert.equal(checks.length, 1);
});

test('allowPartialMessage: the authorizer decides on the first maxRequestBytes, the backend gets every byte', async () => {
  const big = Buffer.concat([Buffer.from('allow'), Buffer.alloc(256 * 1024, 0x7a)]);
  for (const chunked of [false, true]) {
    checks.length = 0;
    const r = await post(big, chunked);
    assertBackendGot(r, big, 'the whole body reached the backend');
    assert.deepEqual(checks, [{ via: 'http', body: big.subarray(0, 16), partial: 'true' }]);
  }
});

test('without allowPartialMessage a body over the bound is 413 and never checked', async () => {
  await load(config('sample-ext-authz-http', '{ maxRequestBytes: 16 }'));
  for (const chunked of [false, true]) {
    checks.length = 0;
    const r = await post(Buffer.from('allow: but this is longer than sixteen bytes'), chunked);
    assert.equal(r.status, 413);
    assert.equal(checks.length, 0);
  }
  const ok = await post(Buffer.from('allow: fits'));
  assert.equal(ok.status, 200);
});

test('ClientTrafficPolicy connection.bufferLimit bounds what is held for the authorizer: 413 beyond, or a partial body', async () => {
  const ctp = (limit: string) => `
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: buffer-limit, namespace: foo }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: httpbin-gateway }]
  connection: { bufferLimit: ${limit} }
`;
  await load(config('sample-ext-authz-http', '{ maxRequestBytes: 1024 }') + ctp('16'));
  checks.length = 0;
  const over = await post(Buffer.from('allow: but this is longer than sixteen bytes'));
  assert.equal(over.status, 413, 'the authorizer would read 1024 bytes, the listener holds 16');
  assert.equal(checks.length, 0);
  assert.equal((await post(Buffer.from('allow: fits'))).status, 200);
  await load(config('sample-ext-authz-http', '{ maxRequestBytes: 1024, allowPartialMessage: true }') + ctp('16'));
  checks.length = 0;
  const big = Buffer.from('allow: and the rest goes to the backend only');
  const r = await post(big);
  assertBackendGot(r, big);
  assert.deepEqual(checks, [{ via: 'http', body: big.subarray(0, 16), partial: 'true' }]);
});

test('gRPC provider: the body as a string, or as raw_body with packAsBytes', async () => {
  const body = Buffer.from('allow \u00e9t\u00e9');
  await load(config('sample-ext-authz-grpc', '{ maxRequestBytes: 64 }'));
  checks.length = 0;
  let r = await post(body);
  assertBackendGot(r, body);
  assert.deepEqual(checks, [{ via: 'grpc', body }]);
  await load(config('sample-ext-authz-grpc', '{ maxRequestBytes: 64, packAsBytes: true }'));
  checks.length = 0;
  r = await post(body, true);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(checks, [{ via: 'grpc-bytes', body }]);
});

test('a bad includeRequestBodyInCheck rejects the provider: its CUSTOM policy fails closed, unasked', async () => {
  await load(config('sample-ext-authz-http', '{ maxRequestBytes: 0 }'));
  checks.length = 0;
  const r = await post(Buffer.from('allow: me'));
  assert.equal(r.status, 403);
  assert.equal(checks.length, 0);
});
