// SecurityPolicy backendRefs and backendSettings over real sockets. jwt
// remoteJWKS.backendRefs: the JWKS is
// fetched through a Service or an Envoy Gateway Backend, resolved as route
// backends are — connections go to its endpoints while the request keeps the
// uri's path and Host (the uri's host need not resolve), TLS for an https uri
// verifies the server (a Backend's tls.insecureSkipVerify opts out), and
// backendSettings.retry moves on to the next endpoint. A missing backend makes
// the policy Invalid (500, never unprotected); settings not served are named.
// extAuth backendSettings.retry: a check that failed on one endpoint is sent
// to the next.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, egRequest, statusOf } from './helpers/eg-quickstart.ts';
import { issueServerCert, makeCa } from './helpers/certs.ts';

// examples/kubernetes/jwt/jwks.json and test.jwt of the Envoy Gateway repository.
const EG_JWKS = '{"keys":[{"kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw","e":"AQAB","alg":"RS256","use":"sig"}]}';
const TOKEN = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWUsImlhdCI6MTUxNjIzOTAyMn0.NHVaYe26MbtOYhSKkoKYdFVomg4i8ZJd8_-RU8VNbftc4TSMb4bXP3l3YlNWACwyXPGffz5aXHc6lty1Y2t4SWRqGteragsVdZufDn5BlnJl9pdR_kdVFUsra2rWKEofkZeIC4yWytE58sMIihvo9H1ScmmVwBcQP6XETqYd0aSHp1gOa9RdUPDvoXQ5oqygTqVtxaDr6wUFKrKItgBMzWIdNZ6y7O9E0DhEPTbE9rfBo6KTFsHAZnMg4k68CDp2woYIaXbmYTWcvbzIuHO7_37GT79XdIwkm95QJ7hYC9RiwrV7mesbY4PAahERJawntho0my942XheVLmGwLMBkQ';

let upstream: Upstream;
let plain: http.Server;
let secure: https.Server;
let plainPort = 0;
let securePort = 0;
let deadPort = 0;
let authz: http.Server;
let authzPort = 0;
let authzChecks = 0;
let gw: TestGateway;
/** What the JWKS servers were asked: "http|https host path". */
const asked: string[] = [];

function answer(scheme: string) {
  return (req: http.IncomingMessage, res: http.ServerResponse) => {
    asked.push(`${scheme} ${req.headers.host} ${req.url}`);
    if (req.url === '/eg/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(EG_JWKS);
    else res.writeHead(404).end();
  };
}

function service(name: string, ports: number[]): string {
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { ports: [{ name: http, port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: default, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${ports[0]} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
${ports.slice(1).map((p, i) => `---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-${i + 2}, namespace: default, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${p} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
`).join('')}`;
}

/** An HTTPRoute for `name`.example.test to the quickstart backend, under SecurityPolicy `name` with these spec fields. */
function securedRoute(name: string, policySpec: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: eg }]
  hostnames: ["${name}.example.test"]
  rules:
    - backendRefs: [{ name: backend, port: 3000 }]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      name: ${name}
${policySpec}`;
}

/** The route under a SecurityPolicy whose remoteJWKS is `jwks`. */
function protectedRoute(name: string, jwks: string): string {
  return securedRoute(name, `  jwt:
    providers:
      - name: example
        remoteJWKS:
${jwks.split('\n').map((l) => `          ${l}`).join('\n')}
`);
}

/** The route behind an HTTP authorizer with a dead endpoint first, then a live one. */
function extAuthRoute(name: string, settings: string): string {
  return securedRoute(name, `  extAuth:
    http:
      backendRefs:
        - name: authz-flaky
          port: 80${settings}
`);
}

before(async () => {
  upstream = await startUpstream('backend');
  const ca = await makeCa({ commonName: 'jwks test CA' });
  const cert = await issueServerCert(ca, { hostnames: ['jwks.example.test'] });
  plain = http.createServer(answer('http'));
  secure = https.createServer({ cert: cert.certPem, key: cert.keyPem }, answer('https'));
  plainPort = await new Promise<number>((r) => plain.listen(0, '127.0.0.1', () => r((plain.address() as AddressInfo).port)));
  securePort = await new Promise<number>((r) => secure.listen(0, '127.0.0.1', () => r((secure.address() as AddressInfo).port)));
  deadPort = await freePort();
  authz = http.createServer((_req, res) => {
    authzChecks++;
    res.writeHead(200).end();
  });
  authzPort = await new Promise<number>((r) => authz.listen(0, '127.0.0.1', () => r((authz.address() as AddressInfo).port)));
  const port = await freePort();
  const extra = service('jwks-svc', [plainPort]) + service('jwks-tls-svc', [securePort]) + service('jwks-flaky', [deadPort, plainPort]) + `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: jwks-backend, namespace: default }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${securePort} } }]
  tls: { insecureSkipVerify: true }
` + protectedRoute('svc', `uri: http://jwks.example.test/eg/jwks.json
backendRefs:
  - name: jwks-svc
    port: 80`) + protectedRoute('backend-tls', `uri: https://jwks.example.test/eg/jwks.json
backendRefs:
  - group: gateway.envoyproxy.io
    kind: Backend
    name: jwks-backend`) + protectedRoute('untrusted', `uri: https://jwks.example.test/eg/jwks.json
backendRefs:
  - name: jwks-tls-svc
    port: 80`) + protectedRoute('retried', `uri: http://jwks.example.test/eg/jwks.json
backendRefs:
  - name: jwks-flaky
    port: 80
backendSettings:
  retry:
    numRetries: 1
  timeout:
    tcp:
      connectTimeout: 1s
  circuitBreaker:
    maxConnections: 10`) + protectedRoute('unretried', `uri: http://jwks.example.test/eg/jwks.json
backendRefs:
  - name: jwks-flaky
    port: 80`) + protectedRoute('missing', `uri: http://jwks.example.test/eg/jwks.json
backendRefs:
  - name: no-such-service
    port: 80`);
  gw = await startGateway(egQuickstart(port, upstream.port, { extra: extra + service('authz-flaky', [deadPort, authzPort]) + extAuthRoute('authz-retried', `
      backendSettings:
        retry:
          numRetries: 1
        loadBalancer:
          type: RoundRobin`) + extAuthRoute('authz-unretried', '') }));
  (gw as TestGateway & { port: number }).port = port;
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  for (const s of [plain, secure, authz]) {
    s?.closeAllConnections();
    await new Promise<void>((r) => s?.close(() => r()));
  }
});

const get = (route: string, token?: string) =>
  egRequest((gw as TestGateway & { port: number }).port, '/', { host: `${route}.example.test`, ...(token ? { authorization: `Bearer ${token}` } : {}) });

test('through a Service: the uri\'s Host and path go to the Service\'s endpoint', async () => {
  asked.length = 0;
  assert.equal((await get('svc')).status, 401, 'no token');
  const ok = await get('svc', TOKEN);
  assert.equal(ok.status, 200, ok.body);
  assert.ok(asked.includes('http jwks.example.test /eg/jwks.json'), asked.join('; '));
});

test('through a Backend with tls: TLS to its endpoint (insecureSkipVerify as the Backend says)', async () => {
  asked.length = 0;
  const ok = await get('backend-tls', TOKEN);
  assert.equal(ok.status, 200, ok.body);
  assert.ok(asked.includes('https jwks.example.test /eg/jwks.json'), asked.join('; '));
});

test('an https uri verifies the server: a certificate the system roots do not trust gets no keys, so 401', async () => {
  asked.length = 0;
  const r = await get('untrusted', TOKEN);
  assert.equal(r.status, 401);
  assert.equal(asked.length, 0, 'the handshake failed before any request');
});

test('backendSettings.retry: a dead endpoint is followed by the next one; unserved settings are named', async () => {
  // The first fetch goes to the first endpoint, the dead one: without retry it fails, with one retry it does not.
  assert.equal((await get('unretried', TOKEN)).status, 401);
  const ok = await get('retried', TOKEN);
  assert.equal(ok.status, 200, ok.body);
  const st = JSON.stringify(await statusOf(gw, 'SecurityPolicy/default/retried'));
  assert.match(st, /remoteJWKS\.backendSettings\.circuitBreaker/);
  assert.doesNotMatch(st, /backendSettings\.retry|backendSettings\.timeout/);
});

test('a backendRef to a missing Service: the policy is Invalid and its route answers 500', async () => {
  assert.equal((await get('missing', TOKEN)).status, 500);
  const st = JSON.stringify(await statusOf(gw, 'SecurityPolicy/default/missing'));
  assert.match(st, /no-such-service/);
});

test('extAuth backendSettings.retry: a check the dead endpoint failed goes to the next one', async () => {
  authzChecks = 0;
  // Round-robin starts at the first endpoint, the dead one.
  assert.equal((await get('authz-unretried')).status, 403, 'unreachable, no retry: statusOnError');
  assert.equal(authzChecks, 0);
  const ok = await get('authz-retried');
  assert.equal(ok.status, 200, ok.body);
  assert.equal(authzChecks, 1);
  const st = JSON.stringify(await statusOf(gw, 'SecurityPolicy/default/authz-retried'));
  assert.match(st, /extAuth\.http\.backendSettings\.loadBalancer/);
  assert.doesNotMatch(st, /backendSettings\.retry/);
});
