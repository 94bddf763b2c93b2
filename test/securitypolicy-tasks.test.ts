// Envoy Gateway's security task pages (site/content/en/latest/tasks/security),
// with their YAML as written, against a real gateway, upstream and JWKS
// server over real sockets: the same answers as Envoy Gateway gives.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createHash, generateKeyPairSync, sign } from 'node:crypto';

import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egRequest as request, statusOf, withEgGateway } from './helpers/eg-quickstart.ts';

// examples/kubernetes/jwt/jwks.json and test.jwt of the Envoy Gateway repository.
const EG_JWKS = '{"keys":[{"kty":"RSA","n":"u1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gunVTLw7onLRnrq0_IzW7yWR7QkrmBL7jTKEn5u-qKhbwKfBstIs-bMY2Zkp18gnTxKLxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW_VDL5AaWTg0nLVkjRo9z-40RQzuVaE8AkAFmxZzow3x-VJYKdjykkJ0iT9wCS0DRTXu269V264Vf_3jvredZiKRkgwlL9xNAwxXFg0x_XFw005UWVRIkdgcKWTjpBP2dPwVZ4WWC-9aGVd-Gyn1o0CLelf4rEjGoXbAAEgAqeGUxrcIlbjXfbcmw","e":"AQAB","alg":"RS256","use":"sig"}]}';
const EG_TEST_JWT = 'eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiYWRtaW4iOnRydWUsImlhdCI6MTUxNjIzOTAyMn0.NHVaYe26MbtOYhSKkoKYdFVomg4i8ZJd8_-RU8VNbftc4TSMb4bXP3l3YlNWACwyXPGffz5aXHc6lty1Y2t4SWRqGteragsVdZufDn5BlnJl9pdR_kdVFUsra2rWKEofkZeIC4yWytE58sMIihvo9H1ScmmVwBcQP6XETqYd0aSHp1gOa9RdUPDvoXQ5oqygTqVtxaDr6wUFKrKItgBMzWIdNZ6y7O9E0DhEPTbE9rfBo6KTFsHAZnMg4k68CDp2woYIaXbmYTWcvbzIuHO7_37GT79XdIwkm95QJ7hYC9RiwrV7mesbY4PAahERJawntho0my942XheVLmGwLMBkQ';

// The claim-authorization task's tokens are signed with a key whose JWKS is not
// published with them: the same claims, signed here for a key served below.
const claimsKey = generateKeyPairSync('rsa', { modulusLength: 2048 });
const CLAIMS_KID = 'b520b3c2c4bd75a10e9cebc9576933dc';
function signJwt(payload: object, kid = CLAIMS_KID): string {
  const h = Buffer.from(JSON.stringify({ typ: 'JWT', alg: 'RS256', kid })).toString('base64url');
  const p = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${h}.${p}.${sign('sha256', Buffer.from(`${h}.${p}`), claimsKey.privateKey).toString('base64url')}`;
}
const VALID_TOKEN = signJwt({ iss: 'https://foo.bar.com', sub: '1234567890', user: { name: 'John Doe', email: 'john.doe@example.com', roles: ['admin', 'editor'] }, premium_user: true, iat: 1516239022, scope: 'read add delete modify' });
const INVALID_TOKEN = signJwt({ iss: 'https://foo.bar.com', sub: '1234567890', user: { name: 'Alice Smith', email: 'alice.smith@example.com', roles: ['developer'] }, premium_user: false, iat: 1516239022, scope: 'read add delete' });

let upstream: Upstream;
let jwks: http.Server;
let jwksBase = '';

before(async () => {
  upstream = await startUpstream('backend');
  const claimsJwk = { ...claimsKey.publicKey.export({ format: 'jwk' }), kid: CLAIMS_KID, alg: 'RS256', use: 'sig' };
  jwks = http.createServer((req, res) => {
    if (req.url === '/eg/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(EG_JWKS);
    else if (req.url === '/claims/jwks.json') res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [claimsJwk] }));
    else res.writeHead(404).end();
  });
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  jwksBase = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}`;
});

after(async () => {
  await upstream.close();
  jwks.closeAllConnections();
  await new Promise<void>((r) => jwks.close(() => r()));
});



/** What the upstream saw for the last request. */
function lastSeen() {
  return upstream.seen[upstream.seen.length - 1];
}



describe('API Key Authentication task', () => {
  const yaml = `---
apiVersion: v1
kind: Secret
type: Opaque
metadata:
  name: apikey-secret
stringData:
  client1: supersecret
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: apikey-auth-example
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      name: backend
  apiKeyAuth:
    credentialRefs:
    - group: ""
      kind: Secret
      name: apikey-secret
    extractFrom:
    - headers:
      - x-api-key
`;
  test('no key → 401 "Client authentication failed."; the right key → the backend', async () => {
    await withEgGateway(upstream.port, yaml, async (port, gw) => {
      const denied = await request(port, '/');
      assert.equal(denied.status, 401);
      assert.equal(denied.body, 'Client authentication failed.');
      assert.equal((await request(port, '/', { 'x-api-key': 'wrong' })).status, 401);
      const ok = await request(port, '/', { 'x-api-key': 'supersecret' });
      assert.equal(ok.status, 200);
      assert.equal(lastSeen().headers['x-api-key'], 'supersecret', 'sanitize is off by default: the key goes upstream');
      const st = await statusOf(gw, 'SecurityPolicy/default/apikey-auth-example');
      assert.ok(st, 'the policy has a status');
      assert.equal(st.accepted, true);
    });
  });
});

describe('Basic Authentication task', () => {
  // htpasswd -cbs .htpasswd foo bar  (and a bcrypt line: htpasswd -bB .htpasswd foo1 bar1)
  const sha = `{SHA}${createHash('sha1').update('bar').digest('base64')}`;
  const yaml = (htpasswd: string) => `---
apiVersion: v1
kind: Secret
metadata: { name: basic-auth, namespace: default }
stringData:
  .htpasswd: |
${htpasswd.split('\n').map((l) => `    ${l}`).join('\n')}
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: basic-auth-example
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: HTTPRoute
      name: backend
  basicAuth:
    users:
      name: "basic-auth"
`;
  test('missing → 401 with WWW-Authenticate Basic; foo:bar ({SHA}) → backend; wrong password → 401', async () => {
    await withEgGateway(upstream.port, yaml(`foo:${sha}`), async (port) => {
      const missing = await request(port, '/');
      assert.equal(missing.status, 401);
      assert.equal(missing.body, 'User authentication failed. Missing username and password.');
      assert.match(String(missing.headers['www-authenticate']), /^Basic realm="http:\/\/www\.example\.com\/"$/);
      const ok = await request(port, '/', { authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}` });
      assert.equal(ok.status, 200);
      const wrong = await request(port, '/', { authorization: `Basic ${Buffer.from('foo:baz').toString('base64')}` });
      assert.equal(wrong.status, 401);
      assert.equal(wrong.body, 'User authentication failed. Invalid username/password combination.');
    });
  });
  test('bcrypt ($2y$) lines verify; the verified credential is cached', async () => {
    const { hash } = await import('@node-rs/bcrypt');
    const line = `foo1:${(await hash('bar1', 5)).replace(/^\$2b\$/, '$2y$')}`;
    await withEgGateway(upstream.port, yaml(`foo:${sha}\n${line}`), async (port) => {
      const auth = { authorization: `Basic ${Buffer.from('foo1:bar1').toString('base64')}` };
      assert.equal((await request(port, '/', auth)).status, 200);
      assert.equal((await request(port, '/', auth)).status, 200);
      assert.equal((await request(port, '/', { authorization: `Basic ${Buffer.from('foo1:nope').toString('base64')}` })).status, 401);
      assert.equal((await request(port, '/', { authorization: `Basic ${Buffer.from('nobody:bar1').toString('base64')}` })).status, 401);
    });
  });
  test('a malformed htpasswd line: the policy is Invalid and its route answers 500, never unprotected', async () => {
    await withEgGateway(upstream.port, yaml(`foo:${sha}\nfoo2:$apr1$abc$def`), async (port, gw) => {
      const r = await request(port, '/', { authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}` });
      assert.equal(r.status, 500);
      const st = await statusOf(gw, 'SecurityPolicy/default/basic-auth-example');
      assert.equal(st.accepted, false);
      assert.match(JSON.stringify(st), /line 2 \(user foo2\): MD5/);
    });
  });
  test('the users Secret missing: 500 and a status naming it', async () => {
    await withEgGateway(upstream.port, yaml(`foo:${sha}`).replace('name: basic-auth, namespace', 'name: other, namespace'), async (port, gw) => {
      assert.equal((await request(port, '/')).status, 500);
      assert.match(JSON.stringify(await statusOf(gw, 'SecurityPolicy/default/basic-auth-example')), /Secret default\/basic-auth not found/);
    });
  });
});

describe('JWT Authentication task', () => {
  const yaml = () => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: jwt-example
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: foo
  jwt:
    providers:
    - name: example
      remoteJWKS:
        uri: ${jwksBase}/eg/jwks.json
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: foo
spec:
  parentRefs:
  - name: eg
  hostnames:
  - "www.example.com"
  rules:
  - backendRefs:
    - group: ""
      kind: Service
      name: backend
      port: 3000
      weight: 1
    matches:
    - path:
        type: PathPrefix
        value: /foo
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: bar
spec:
  parentRefs:
  - name: eg
  hostnames:
  - "www.example.com"
  rules:
  - backendRefs:
    - group: ""
      kind: Service
      name: backend
      port: 3000
      weight: 1
    matches:
    - path:
        type: PathPrefix
        value: /bar
`;
  test('/foo: 401 without a token, 200 with test.jwt; /bar open', async () => {
    await withEgGateway(upstream.port, yaml(), async (port) => {
      const missing = await request(port, '/foo');
      assert.equal(missing.status, 401);
      assert.equal(missing.body, 'Jwt is missing');
      assert.equal((await request(port, '/foo', { authorization: `Bearer ${EG_TEST_JWT}` })).status, 200);
      assert.equal(lastSeen().headers.authorization, `Bearer ${EG_TEST_JWT}`, 'the token is forwarded');
      const forged = EG_TEST_JWT.slice(0, -4) + 'AAAA';
      const bad = await request(port, '/foo', { authorization: `Bearer ${forged}` });
      assert.equal(bad.status, 401);
      assert.equal(bad.body, 'Jwt verification fails');
      assert.equal((await request(port, '/bar')).status, 200);
    });
  });
  test('an unreachable JWKS: 401, never a crash or an open door', async () => {
    const dead = await freePort();
    await withEgGateway(upstream.port, yaml().replace(`${jwksBase}/eg/jwks.json`, `http://127.0.0.1:${dead}/jwks.json`), async (port) => {
      const r = await request(port, '/foo', { authorization: `Bearer ${EG_TEST_JWT}` });
      assert.equal(r.status, 401);
      assert.equal(r.body, 'Jwks remote fetch is failed');
      assert.equal((await request(port, '/bar')).status, 200);
    });
  });
});

describe('JWT Claim-Based Authorization task', () => {
  const yaml = () => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: authorization-jwt-claim
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: backend
  jwt:
    providers:
    - name: example
      issuer: https://foo.bar.com
      remoteJWKS:
        uri: ${jwksBase}/claims/jwks.json
  authorization:
    defaultAction: Deny
    rules:
    - name: "allow"
      action: Allow
      principal:
        jwt:
          provider: example
          scopes: ["read", "add", "modify"]
          claims:
          - name: user.name
            values: ["John Doe"]
          - name: user.roles
            valueType: StringArray
            values: ["admin"]
`;
  test('the token with the claims → 200; without them → 403', async () => {
    await withEgGateway(upstream.port, yaml(), async (port) => {
      assert.equal((await request(port, '/', { authorization: `Bearer ${VALID_TOKEN}` })).status, 200);
      const denied = await request(port, '/', { authorization: `Bearer ${INVALID_TOKEN}` });
      assert.equal(denied.status, 403);
      assert.equal(denied.body, 'RBAC: access denied');
      assert.equal((await request(port, '/')).status, 401);
    });
  });
});

describe('IP Allowlist/Denylist task', () => {
  const yaml = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: authorization-client-ip
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: backend
  authorization:
    defaultAction: Deny
    rules:
    - action: Allow
      principal:
        clientCIDRs:
        - 10.0.1.0/24
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: enable-client-ip-detection
spec:
  clientIPDetection:
    xForwardedFor:
      numTrustedHops: 1
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: eg
`;
  test('403 "RBAC: access denied" without X-Forwarded-For; allowed from 10.0.1.1', async () => {
    await withEgGateway(upstream.port, yaml, async (port) => {
      const denied = await request(port, '/');
      assert.equal(denied.status, 403);
      assert.equal(denied.body, 'RBAC: access denied');
      assert.equal((await request(port, '/', { 'x-forwarded-for': '10.0.1.1' })).status, 200);
      assert.equal((await request(port, '/', { 'x-forwarded-for': '10.0.1.1, 192.0.2.7' })).status, 403, 'only one hop is trusted');
    });
  });
});

describe('CORS task', () => {
  const yaml = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata:
  name: cors-example
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: backend
  cors:
    allowOrigins:
    - "http://*.foo.com"
    allowMethods:
    - GET
    - POST
    allowHeaders:
    - "x-header-1"
    - "x-header-2"
    exposeHeaders:
    - "x-header-3"
    - "x-header-4"
`;
  test('preflight from http://www.foo.com gets the CORS headers; bar.com and :8080 get none', async () => {
    await withEgGateway(upstream.port, yaml, async (port) => {
      const pre = (origin: string) => request(port, '/', { origin, 'access-control-request-method': 'GET' }, 'OPTIONS');
      const ok = await pre('http://www.foo.com');
      assert.equal(ok.status, 200);
      assert.equal(ok.headers['access-control-allow-origin'], 'http://www.foo.com');
      assert.equal(ok.headers['access-control-allow-methods'], 'GET, POST');
      assert.equal(ok.headers['access-control-allow-headers'], 'x-header-1, x-header-2');
      assert.equal(ok.headers['access-control-max-age'], '86400');
      assert.equal(ok.headers['access-control-expose-headers'], 'x-header-3, x-header-4');
      assert.equal((await pre('http://a.b.foo.com')).headers['access-control-allow-origin'], 'http://a.b.foo.com', '* spans subdomain levels');
      for (const o of ['http://www.bar.com', 'http://www.foo.com:8080', 'https://www.foo.com']) {
        const r = await pre(o);
        assert.equal(r.status, 200);
        assert.equal(r.headers['access-control-allow-origin'], undefined, o);
      }
      const actual = await request(port, '/', { origin: 'http://www.foo.com' });
      assert.equal(actual.status, 200);
      assert.equal(actual.headers['access-control-allow-origin'], 'http://www.foo.com');
      assert.match(String(actual.headers.vary), /Origin/);
      assert.equal(actual.headers['access-control-expose-headers'], 'x-header-3, x-header-4');
      // Origins match case-insensitively; the answer echoes the Origin as sent.
      const upper = await request(port, '/', { origin: 'HTTP://WWW.Foo.com' });
      assert.equal(upper.headers['access-control-allow-origin'], 'HTTP://WWW.Foo.com');
      const evil = await request(port, '/', { origin: 'http://evil.com' });
      assert.equal(evil.headers['access-control-allow-origin'], undefined);
      assert.equal(evil.headers['access-control-expose-headers'], undefined);
      assert.match(String(evil.headers.vary), /Origin/, 'a response that depends on Origin says so, allowed or not');
    });
  });
});
