// Envoy Gateway's "JWT Claims Based Routing" (tasks/traffic/http-routing) with
// its YAML as written (the JWKS served here instead of from GitHub), over real
// sockets: jwt.providers[].recomputeRoute makes the headers claimToHeaders set
// take part in route matching, so John Doe's token reaches foo-svc and Tom's
// bar-svc through the catch-all rule; a client's own x-name never decides.
// extAuth.recomputeRoute does the same with an authorizer's headersToBackend.
// `portcullis explain` shows the re-route.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, egRequest } from './helpers/eg-quickstart.ts';
import { explain, parseRequestLine } from '../src/cli/explain.ts';

// examples/kubernetes/jwt/{jwks.json,test.jwt,with-different-claim.jwt} of the Envoy Gateway repository.
const EG_JWKS = '{"keys":[{"kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw","e":"AQAB","alg":"RS256","use":"sig"}]}';
const JOHN = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWUsImlhdCI6MTUxNjIzOTAyMn0.NHVaYe26MbtOYhSKkoKYdFVomg4i8ZJd8_-RU8VNbftc4TSMb4bXP3l3YlNWACwyXPGffz5aXHc6lty1Y2t4SWRqGteragsVdZufDn5BlnJl9pdR_kdVFUsra2rWKEofkZeIC4yWytE58sMIihvo9H1ScmmVwBcQP6XETqYd0aSHp1gOa9RdUPDvoXQ5oqygTqVtxaDr6wUFKrKItgBMzWIdNZ6y7O9E0DhEPTbE9rfBo6KTFsHAZnMg4k68CDp2woYIaXbmYTWcvbzIuHO7_37GT79XdIwkm95QJ7hYC9RiwrV7mesbY4PAahERJawntho0my942XheVLmGwLMBkQ';
const TOM = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IlRvbSIsImFkbWluIjp0cnVlLCJpYXQiOjE1MTYyMzkwMjJ9.kyzDDSo7XpweSPU1lxoI9IHzhTBrRNlnmcW9lmCbloZELShg-8isBx4AFoM4unXZTHpS_Y24y0gmd4nDQxgUE-CgjVSnGCb0Xhy3WO1gm9iChoKDyyQ3kHp98EmKxTyxKG2X9GyKcDFNBDjH12OBD7TcJUaBEvLf6Jw1SG2A7FakUPWeK04DQ916-ROylzI6qKyaZ0OpfYIbijvyAQxlQRxxs2XHlAkLdJhfVcUqJBwsFTbwHYARC-WNgd2_etAk1GWdwwZ_NoTmRzZAMryrYJpHY9KPlbnZ93Ye3o9h2viBQ_XRb7JBkWnAGYO4_KswpJWE_7ROUVj8iOJo2jfY6w';

let foo: Upstream;
let bar: Upstream;
let jwks: http.Server;
let authz: http.Server;
let jwksUri = '';
let authzPort = 0;
let gw: TestGateway;
let port = 0;
/** Host the task's route answers (it has no hostnames; the quickstart's route owns www.example.com). */
const HOST = 'gateway.example.test';

const listen = (s: http.Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

function service(name: string, upstreamPort: number, servicePort = 8080): string {
  return `---
apiVersion: v1
kind: Service
metadata: { name: ${name}, namespace: default }
spec: { ports: [{ name: http, port: ${servicePort} }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: ${name}-1, namespace: default, labels: { kubernetes.io/service-name: ${name} } }
addressType: IPv4
ports: [{ name: http, port: ${upstreamPort} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
`;
}

/** The task's SecurityPolicy and HTTPRoute, as written but for the JWKS uri. */
function taskYaml(): string {
  return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: jwt-example
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: jwt-claim-routing
  jwt:
    providers:
      - name: example
        recomputeRoute: true
        claimToHeaders:
          - claim: sub
            header: x-sub
          - claim: admin
            header: x-admin
          - claim: name
            header: x-name
        remoteJWKS:
          uri: ${jwksUri}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: jwt-claim-routing
spec:
  parentRefs:
    - name: eg
  rules:
    - backendRefs:
        - kind: Service
          name: foo-svc
          port: 8080
          weight: 1
      matches:
        - headers:
            - name: x-name
              value: John Doe
    - backendRefs:
        - kind: Service
          name: bar-svc
          port: 8080
          weight: 1
      matches:
        - headers:
            - name: x-name
              value: Tom
    # catch all
    - backendRefs:
        - kind: Service
          name: infra-backend-invalid
          port: 8080
          weight: 1
      matches:
        - path:
            type: PathPrefix
            value: /
`;
}

/** An HTTPRoute on tier.example.test routed by the header an HTTP authorizer sets (extAuth.recomputeRoute). */
function extAuthYaml(): string {
  return service('http-ext-auth', authzPort, 9002) + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: tier-routing
spec:
  parentRefs:
    - name: eg
  hostnames: ["tier.example.test"]
  rules:
    - matches:
        - headers:
            - name: x-user-tier
              value: premium
      backendRefs:
        - name: bar-svc
          port: 8080
    - backendRefs:
        - name: foo-svc
          port: 8080
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: tier-auth
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      name: tier-routing
  extAuth:
    recomputeRoute: true
    http:
      backendRefs:
        - name: http-ext-auth
          port: 9002
      headersToBackend: ["x-user-tier"]
`;
}

before(async () => {
  [foo, bar] = await Promise.all([startUpstream('foo'), startUpstream('bar')]);
  jwks = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(EG_JWKS));
  jwksUri = `http://127.0.0.1:${await listen(jwks)}/jwks.json`;
  // "Bearer premium" is a premium user; any other credential a free one; none is denied.
  authz = http.createServer((req, res) => {
    const a = req.headers.authorization;
    if (!a) res.writeHead(403).end();
    else res.writeHead(200, { 'x-user-tier': a === 'Bearer premium' ? 'premium' : 'free' }).end();
  });
  authzPort = await listen(authz);
  port = await freePort();
  gw = await startGateway(egQuickstart(port, foo.port, { extra: service('foo-svc', foo.port) + service('bar-svc', bar.port) + taskYaml() + extAuthYaml() }));
});

after(async () => {
  await gw?.close();
  await Promise.all([foo?.close(), bar?.close()]);
  for (const s of [jwks, authz]) {
    s?.closeAllConnections();
    await new Promise<void>((r) => s?.close(() => r()));
  }
});

const get = (headers: Record<string, string>, host = HOST) => egRequest(port, '/', { host, ...headers });

describe('JWT claims based routing task', () => {
  test('John Doe\'s token reaches foo-svc, Tom\'s bar-svc, with the claim headers set', async () => {
    const john = await get({ authorization: `Bearer ${JOHN}` });
    assert.equal(john.status, 200, john.body);
    assert.equal(john.headers['x-backend'], 'foo');
    assert.equal(foo.seen.at(-1)!.headers['x-name'], 'John Doe');
    assert.equal(foo.seen.at(-1)!.headers['x-sub'], '1234567890');
    assert.equal(foo.seen.at(-1)!.headers['x-admin'], 'true');
    const tom = await get({ authorization: `Bearer ${TOM}` });
    assert.equal(tom.status, 200, tom.body);
    assert.equal(tom.headers['x-backend'], 'bar');
    assert.equal(bar.seen.at(-1)!.headers['x-name'], 'Tom');
  });

  test('without a token: 401 on every rule, whatever x-name the client sends', async () => {
    for (const h of [{}, { 'x-name': 'Tom' }, { 'x-name': 'John Doe' }] as Record<string, string>[]) {
      const r = await get(h);
      assert.equal(r.status, 401, JSON.stringify(h));
      assert.equal(r.body, 'Jwt is missing');
    }
  });

  test('a forged x-name never decides: the claim replaces it and the route is chosen on the claim', async () => {
    const r = await get({ authorization: `Bearer ${JOHN}`, 'x-name': 'Tom' });
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-backend'], 'foo');
    assert.equal(foo.seen.at(-1)!.headers['x-name'], 'John Doe');
    const t = await get({ authorization: `Bearer ${TOM}`, 'x-name': 'John Doe' });
    assert.equal(t.headers['x-backend'], 'bar');
  });

  test('a bad token is 401 before any re-route', async () => {
    const r = await get({ authorization: `Bearer ${JOHN.slice(0, -4)}AAAA` });
    assert.equal(r.status, 401);
  });

  test('the status no longer says recomputeRoute is not served', async () => {
    const cfg = (await (await fetch(`${gw.adminUrl}/config`)).json()) as { status?: { object: string }[] };
    const st = JSON.stringify((cfg.status ?? []).find((s) => s.object === 'SecurityPolicy/default/jwt-example'));
    assert.ok(st.length > 2);
    assert.doesNotMatch(st, /recomputeRoute/);
  });

  test('portcullis explain shows the route chosen again', async () => {
    const out = await explain([gw.file], parseRequestLine(`GET http://${HOST}:${port}/ -H 'Authorization: Bearer ${TOM}'`), { sourceIp: '127.0.0.1', rootNamespace: 'istio-system' });
    assert.match(out.text, /recomputeRoute/);
    assert.match(out.text, /jwt-claim-routing.*→.*jwt-claim-routing/);
    assert.match(out.text, /route: HTTPRoute\/default\/jwt-claim-routing rule 2/, 'the first match, on the catch-all');
    assert.match(out.text, /rerouted: HTTPRoute\/default\/jwt-claim-routing rule 1/);
    assert.match(out.text, /its filters after the re-route: no filters/, 'the jwt filter does not run twice');
    assert.match(out.text, /bar-svc/);
    assert.equal(out.code, 0, out.text);
  });
});

describe('extAuth.recomputeRoute', () => {
  test('the header the authorizer sets chooses the rule', async () => {
    const premium = await get({ authorization: 'Bearer premium' }, 'tier.example.test');
    assert.equal(premium.status, 200);
    assert.equal(premium.headers['x-backend'], 'bar');
    const free = await get({ authorization: 'Bearer someone', 'x-user-tier': 'premium' }, 'tier.example.test');
    assert.equal(free.status, 200);
    assert.equal(free.headers['x-backend'], 'foo', 'the authorizer\'s x-user-tier overrides the client\'s');
    assert.equal((await get({ 'x-user-tier': 'premium' }, 'tier.example.test')).status, 403);
  });
});
