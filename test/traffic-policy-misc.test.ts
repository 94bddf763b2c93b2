// BackendTrafficPolicy over real sockets, beyond the plain rate limits: a
// limit per authenticated consumer (the identity a JWT established, never a
// header), fault injection (delay, abort, gRPC abort) and the request timeout.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, sign } from 'node:crypto';
import { request } from 'undici';
import { startGateway, gatewayYaml, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { routeYaml, policyYaml, prefixRule } from './helpers/yaml.ts';

let up: Upstream;
let gw: TestGateway;
let port: number;
const ISSUER = 'https://issuer.traffic.test';
const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
const jwks = JSON.stringify({ keys: [{ ...publicKey.export({ format: 'jwk' }), kid: 'k1', alg: 'RS256', use: 'sig' }] });

function token(sub: string): string {
  const b = (v: string | Buffer) => Buffer.from(v).toString('base64url');
  const now = Math.floor(Date.now() / 1000);
  const head = b(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid: 'k1' }));
  const body = b(JSON.stringify({ iss: ISSUER, sub, iat: now, exp: now + 600 }));
  return `${head}.${body}.${b(sign('RSA-SHA256', Buffer.from(`${head}.${body}`), privateKey))}`;
}

const route = (name: string, path: string) => routeYaml(name, prefixRule(path, 'up'));
const policy = (name: string, body: string) => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${name} }]
${body.replace(/^/gm, '  ')}
`;

before(async () => {
  up = await startUpstream('up');
  port = await freePort();
  gw = await startGateway(gatewayYaml(port, { up: up.port }, policyYaml('RequestAuthentication', 'jwt', 'Gateway/gw', `jwtRules:
  - issuer: ${ISSUER}
    jwks: '${jwks}'`) + route('consumer', '/consumer') + policy('consumer', `rateLimit:
  type: Local
  local:
    rules:
      - clientSelectors: [{ consumer: { type: Distinct } }]
        limit: { requests: 2, unit: Hour }`) +
    route('abort', '/abort') + policy('abort', `faultInjection:
  abort: { httpStatus: 503 }`) +
    route('grpc-abort', '/grpc-abort') + policy('grpc-abort', `faultInjection:
  abort: { grpcStatus: 14 }`) +
    route('delay', '/delay') + policy('delay', `faultInjection:
  delay: { fixedDelay: 300ms }`) +
    route('slow', '/slow') + policy('slow', `timeout:
  http: { requestTimeout: 200ms }`)));
});
after(async () => {
  await gw?.close();
  await up?.close();
});

async function get(path: string, headers: Record<string, string> = {}) {
  const t0 = Date.now();
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers });
  const body = await r.body.text();
  return { status: r.statusCode, headers: r.headers, body, ms: Date.now() - t0 };
}

test('a limit per consumer counts the JWT subject the gateway verified; headers cannot impersonate', async () => {
  const alice = { authorization: `Bearer ${token('alice')}` };
  const bob = { authorization: `Bearer ${token('bob')}` };
  assert.deepEqual([(await get('/consumer', alice)).status, (await get('/consumer', alice)).status, (await get('/consumer', alice)).status], [200, 200, 429]);
  assert.deepEqual([(await get('/consumer', bob)).status, (await get('/consumer', bob)).status, (await get('/consumer', bob)).status], [200, 200, 429]);
  // Without an established identity the rule does not apply, whatever the client claims in headers.
  for (let i = 0; i < 3; i++) assert.equal((await get('/consumer', { 'x-consumer': 'alice', 'x-user-id': 'alice' })).status, 200);
});

test('faultInjection: abort with an HTTP status, with a gRPC status, and a fixed delay', async () => {
  const a = await get('/abort');
  assert.equal(a.status, 503);
  assert.equal(a.body, 'fault filter abort');
  const g = await get('/grpc-abort');
  assert.equal(g.status, 200);
  assert.equal(g.headers['grpc-status'], '14');
  assert.equal(g.headers['content-type'], 'application/grpc');
  const d = await get('/delay');
  assert.equal(d.status, 200);
  assert.ok(d.ms >= 290, `delayed ${d.ms} ms`);
});

test('timeout.http.requestTimeout bounds the upstream request (504)', async () => {
  const slow = await get('/slow/delay/2000');
  assert.equal(slow.status, 504);
  assert.ok(slow.ms < 1500, `${slow.ms} ms`);
  assert.equal((await get('/slow/delay/10')).status, 200);
});
