// SecurityPolicy extAuth.bodyToExtAuth over real sockets, with real HTTP and
// gRPC (envoy.service.auth.v3) authorizers that decide on the body they were
// sent. Envoy Gateway maps maxRequestBytes to Envoy's with_request_body with
// no partial message: a body within the bound goes to the authorizer whole
// (HTTP: as the check request's body; gRPC: attributes.request.http.body),
// the backend still gets every byte after an allow, and a body over the bound
// is 413 without a check, even with failOpen.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { hashBody } from './helpers/upstream.ts';
import { egQuickstart } from './helpers/eg-quickstart.ts';
import { EXTERNAL_AUTH_PROTO, PROTO_OPTIONS } from '../src/authz/ext-authz/grpc-client.ts';

let gw: TestGateway;
let port = 0;
let backend: http.Server;
let httpAuthz: http.Server;
let grpcAuthz: grpc.Server;
let backendPort = 0;
let httpAuthzPort = 0;
let grpcAuthzPort = 0;
/** What each authorizer was sent. */
const checks: { via: string; body: Buffer; partial?: string; length?: string; path?: string }[] = [];

const listen = (s: http.Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

before(async () => {
  backend = http.createServer((req, res) => {
    void hashBody(req).then((seen) => res.end(JSON.stringify(seen)));
  });
  // Allows when the body starts with "allow" (and says so to the backend).
  httpAuthz = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      checks.push({ via: 'http', body, partial: req.headers['x-envoy-auth-partial-body'] as string | undefined, length: req.headers['content-length'], path: req.url });
      if (body.toString('latin1').startsWith('allow')) res.writeHead(200).end();
      else res.writeHead(403, { 'content-type': 'text/plain' }).end('body says no');
    });
  });
  [backendPort, httpAuthzPort] = await Promise.all([listen(backend), listen(httpAuthz)]);
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(EXTERNAL_AUTH_PROTO, PROTO_OPTIONS)) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  grpcAuthz = new grpc.Server();
  grpcAuthz.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<{ attributes: { request: { http: { body?: string; raw_body?: Buffer } } } }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const h = call.request.attributes.request.http;
      const raw = h.raw_body && h.raw_body.length > 0;
      const body = raw ? Buffer.from(h.raw_body!) : Buffer.from(h.body ?? '', 'utf8');
      checks.push({ via: raw ? 'grpc-bytes' : 'grpc', body });
      if (body.toString('utf8').startsWith('allow')) cb(null, { status: { code: 0 }, ok_response: {} });
      else cb(null, { status: { code: 7 }, denied_response: { status: { code: 403 }, body: 'body says no' } });
    },
  });
  grpcAuthzPort = await new Promise<number>((resolve, reject) =>
    grpcAuthz.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  port = await freePort();
  gw = await startGateway(config('http', ''));
});

after(async () => {
  await gw?.close();
  grpcAuthz?.forceShutdown();
  for (const s of [backend, httpAuthz]) {
    s?.closeAllConnections();
    await new Promise<void>((r) => s?.close(() => r()));
  }
});

/** Envoy Gateway's ext auth task (HTTP or gRPC authorizer) with bodyToExtAuth.maxRequestBytes: 16. */
function config(kind: 'http' | 'grpc', extra: string): string {
  const svc = kind === 'http' ? 'http-ext-auth' : 'grpc-ext-auth';
  const authzPort = kind === 'http' ? httpAuthzPort : grpcAuthzPort;
  return egQuickstart(port, backendPort, { extra: `---
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

async function post(body: Buffer, chunked = false): Promise<{ status: number; text: string }> {
  const r = await request(`http://127.0.0.1:${port}/upload?x=1`, {
    method: 'POST',
    headers: { host: 'www.example.com', 'content-type': 'application/json' },
    body: chunked ? Readable.from([body.subarray(0, 3), body.subarray(3)]) : body,
  });
  return { status: r.statusCode, text: await r.body.text() };
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

test('HTTP authorizer: the body is the check request\'s body; after an allow the backend gets it unchanged', async () => {
  for (const chunked of [false, true]) {
    checks.length = 0;
    const body = Buffer.from('allow: {"a":1}');
    const r = await post(body, chunked);
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { hash: sha(body), bytes: body.length });
    assert.deepEqual(checks, [{ via: 'http', body, partial: 'false', length: String(body.length), path: '/upload?x=1' }]);
  }
  checks.length = 0;
  const denied = await post(Buffer.from('deny: {"a":1}'));
  assert.equal(denied.status, 403);
  assert.equal(denied.text, 'body says no');
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
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(JSON.parse(r.text), { hash: sha(body), bytes: body.length });
    assert.deepEqual(checks, [{ via: 'grpc', body }]);
  }
  checks.length = 0;
  const denied = await post(Buffer.from('nope'));
  assert.equal(denied.status, 403);
  assert.equal(denied.text, 'body says no');
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
