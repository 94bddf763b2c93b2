// Istio task "JWT Token" over real sockets, then the JWT facts around it:
// examples/istio/authz-jwt.yaml with its jwksUri pointed at a JWKS server of
// this test (RS256 and ES256 keys), tokens signed here with the claims of
// Istio's demo.jwt and groups-scope.jwt, and hostile tokens next to them.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHmac, createPublicKey } from 'node:crypto';
import { parseAllDocuments } from 'yaml';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { exampleYaml, send, type Answer } from './helpers/istio-e2e.ts';
import { istioSelectorYaml } from './helpers/yaml.ts';

const ISS = 'testing@secure.istio.io';
const SAMPLE_JWKS = 'https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json';
const RBAC = 'RBAC: access denied';

interface Key { kid: string; alg: 'RS256' | 'ES256'; privateKey: CryptoKey; jwk: JWK }

let echo: EchoServer;
let jwksServer: http.Server;
let jwksFetches = 0;
let jwksUrl = '';
let deadJwksUrl = '';
let gw: TestGateway;
let port = 0;
let rsa: Key;
let ec: Key;
let attacker: Key;

async function key(kid: string, alg: 'RS256' | 'ES256'): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } };
}

const nowS = () => Math.floor(Date.now() / 1000);

function sign(k: Key, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid: k.kid, ...header }).sign(k.privateKey);
}

/** demo.jwt's claims: no groups. */
const demoClaims = () => ({ exp: nowS() + 3600, foo: 'bar', iat: nowS(), iss: ISS, sub: ISS });
/** groups-scope.jwt's claims. */
const groupClaims = () => ({ ...demoClaims(), groups: ['group1', 'group2'], scope: ['scope1', 'scope2'] });

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

before(async () => {
  [rsa, ec, attacker] = await Promise.all([key('rsa', 'RS256'), key('ec', 'ES256'), key('rsa', 'RS256')]);
  jwksServer = http.createServer((req, res) => {
    jwksFetches++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [rsa.jwk, ec.jwk] }));
  });
  await new Promise<void>((r) => jwksServer.listen(0, '127.0.0.1', r));
  jwksUrl = `http://127.0.0.1:${(jwksServer.address() as net.AddressInfo).port}/jwks.json`;
  deadJwksUrl = `http://127.0.0.1:${await freePort()}/jwks.json`;
  echo = await startEcho('v1');
  port = await freePort();
  gw = await startGateway(exampleYaml('authz-jwt.yaml', { 8080: port, 9081: echo.port }, { [SAMPLE_JWKS]: jwksUrl }));
});

after(async () => {
  await gw?.close();
  await echo?.close();
  jwksServer?.closeAllConnections();
  await new Promise<void>((r) => (jwksServer ? jwksServer.close(() => r()) : r()));
});

/** The example's Gateway/Service part with other policies: the same gateway, reloaded. */
async function load(policies: string): Promise<void> {
  const infra = parseAllDocuments(exampleYaml('authz-jwt.yaml', { 8080: port, 9081: echo.port }))
    .filter((d) => !String((d.toJS() as { apiVersion: string }).apiVersion).startsWith('security.istio.io/'))
    .map((d) => d.toString())
    .join('---\n');
  await gw.write(`${infra}---\n${policies.replaceAll('JWKS_URL', jwksUrl).replaceAll('DEAD_JWKS', deadJwksUrl)}`);
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

function assertUnauthorized(r: Answer, body: string): void {
  assert.equal(r.status, 401, r.body);
  assert.equal(r.body, body);
  // Envoy's realm is the request's scheme, Host (with its port) and path.
  assert.equal(r.headers['www-authenticate'], `Bearer realm="http://127.0.0.1:${port}/headers", error="invalid_token"`);
}

describe('the task, as written', () => {
  test('an invalid token is refused with 401 and WWW-Authenticate, as Envoy answers it', async () => {
    const r = await send(port, '/headers', { headers: bearer('invalidToken') });
    assertUnauthorized(r, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
  });

  test('no token: 403 from require-jwt (RequestAuthentication alone would let it through)', async () => {
    const r = await send(port, '/headers');
    assert.equal(r.status, 403);
    assert.equal(r.body, RBAC);
  });

  test('demo.jwt (RS256, no groups claim): 403', async () => {
    assert.equal((await send(port, '/headers', { headers: bearer(await sign(rsa, demoClaims())) })).status, 403);
  });

  test('groups-scope.jwt (here ES256, groups [group1, group2]): 200, and the token is not passed upstream', async () => {
    const r = await send(port, '/headers', { headers: bearer(await sign(ec, groupClaims())) });
    assert.equal(r.status, 200, r.body);
    const seen = r.json();
    assert.equal(seen.url, '/headers');
    assert.equal(seen.headers.authorization, undefined, 'forwardOriginalToken is false: the token is removed');
  });

  test('the same token in ?access_token= works too, and leaves the query before upstream', async () => {
    const t = await sign(rsa, groupClaims());
    const r = await send(port, `/headers?a=1&access_token=${t}&b=2`);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().url, '/headers?a=1&b=2');
  });

  test('claims are matched exactly: a single string claim matches, look-alikes do not', async () => {
    const ok = (groups: unknown) => sign(rsa, { ...demoClaims(), groups });
    assert.equal((await send(port, '/headers', { headers: bearer(await ok('group1')) })).status, 200);
    for (const groups of [['group10'], ['Group1'], 'group1 group2', ['x', ['group1']], { group1: true }, [1]]) {
      assert.equal((await send(port, '/headers', { headers: bearer(await ok(groups)) })).status, 403, JSON.stringify(groups));
    }
  });

  test('requestPrincipals is issuer/subject: another subject with group1 is 403', async () => {
    const t = await sign(rsa, { ...groupClaims(), sub: 'someone-else' });
    assert.equal((await send(port, '/headers', { headers: bearer(t) })).status, 403);
  });

  const bad: [string, () => Promise<string>, string][] = [
    ['expired', () => sign(rsa, { ...groupClaims(), exp: nowS() - 3600 }), 'Jwt is expired'],
    ['not yet valid', () => sign(rsa, { ...groupClaims(), nbf: nowS() + 3600 }), 'Jwt not yet valid'],
    ['signed by another key under the same kid (forged)', () => sign(attacker, groupClaims()), 'Jwt verification fails'],
    ['from another issuer', () => sign(rsa, { ...groupClaims(), iss: 'https://evil.example' }), 'Jwt issuer is not configured'],
    ['with alg "none"', async () => `${b64({ alg: 'none', kid: 'rsa' })}.${b64(groupClaims())}.`, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
    ['with alg none and a signature part', async () => `${b64({ alg: 'none' })}.${b64(groupClaims())}.AA`, 'Jwt header [alg] is not supported'],
    [
      'HMAC-signed with the RSA public key as secret (alg confusion)',
      async () => {
        const input = `${b64({ alg: 'HS256', kid: 'rsa' })}.${b64(groupClaims())}`;
        const pem = createPublicKey({ key: rsa.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
      "Jwks doesn't have key to match kid or alg from Jwt",
    ],
    ['claiming RS256 under the EC key', () => sign(rsa, groupClaims(), { kid: 'ec' }), "Jwks doesn't have key to match kid or alg from Jwt"],
    ['with its payload changed after signing', async () => {
      const [h, , s] = (await sign(rsa, demoClaims())).split('.');
      return `${h}.${b64(groupClaims())}.${s}`;
    }, 'Jwt verification fails'],
  ];
  for (const [what, make, body] of bad) {
    test(`a token ${what} is 401 "${body}", even with the right claims`, async () => {
      assertUnauthorized(await send(port, '/headers', { headers: bearer(await make()) }), body);
    });
  }

  test('the JWKS is fetched once, not per request', async () => {
    const before = jwksFetches;
    const t = await sign(ec, groupClaims());
    for (let i = 0; i < 5; i++) assert.equal((await send(port, '/headers', { headers: bearer(t) })).status, 200);
    assert.ok(jwksFetches <= Math.max(before, 1), `fetched ${jwksFetches} times`);
  });
});

describe('RequestAuthentication facts', () => {
  /** RequestAuthentication foo/jwt; `extra` adds fields to its jwtRule (two-space indented). */
  const RA = (extra = '', selector = 'app: httpbin') => istioSelectorYaml('RequestAuthentication', 'foo/jwt', selector, `jwtRules:
- issuer: "${ISS}"
  jwksUri: "JWKS_URL"
${extra}`);

  test('without an AuthorizationPolicy: a missing token is no error (200), an invalid one is 401', async () => {
    await load(RA());
    assert.equal((await send(port, '/headers')).status, 200);
    assertUnauthorized(await send(port, '/headers', { headers: bearer('a.b.c') }), 'Jwt header is an invalid Base64url encoded');
    assert.equal((await send(port, '/headers', { headers: bearer(await sign(rsa, demoClaims())) })).status, 200);
  });

  test('a JWT with a wrong audience is refused with 403, the right audience passes', async () => {
    await load(RA('  audiences: ["httpbin.foo"]'));
    const wrong = await send(port, '/headers', { headers: bearer(await sign(rsa, { ...demoClaims(), aud: 'other' })) });
    assert.equal(wrong.status, 403);
    assert.equal(wrong.body, 'Audiences in Jwt are not allowed');
    assert.match(String(wrong.headers['www-authenticate']), /^Bearer realm=".*", error="invalid_token"$/);
    const none = await send(port, '/headers', { headers: bearer(await sign(rsa, demoClaims())) });
    assert.equal(none.status, 403, 'no aud at all is not an allowed audience');
    const right = await send(port, '/headers', { headers: bearer(await sign(rsa, { ...demoClaims(), aud: ['x', 'httpbin.foo'] })) });
    assert.equal(right.status, 200);
  });

  test('forwardOriginalToken: true keeps the token for the upstream', async () => {
    await load(RA('  forwardOriginalToken: true'));
    const t = await sign(rsa, demoClaims());
    const r = await send(port, '/headers', { headers: bearer(t) });
    assert.equal(r.status, 200);
    assert.equal(r.json().headers.authorization, `Bearer ${t}`);
  });

  test('nested claims: request.auth.claims[realm_access][roles] guards /admin, the rest needs no token', async () => {
    await load(RA() + istioSelectorYaml('AuthorizationPolicy', 'foo/admin-role', 'app: httpbin', `rules:
- to:
  - operation:
      notPaths: ["/admin*"]
- to:
  - operation:
      paths: ["/admin*"]
  when:
  - key: request.auth.claims[realm_access][roles]
    values: ["admin"]`));
    const roles = (r: unknown) => sign(rsa, { ...demoClaims(), realm_access: { roles: r } });
    assert.equal((await send(port, '/public')).status, 200);
    assert.equal((await send(port, '/admin/users')).status, 403);
    assert.equal((await send(port, '/admin/users', { headers: bearer(await roles(['user', 'admin'])) })).status, 200);
    assert.equal((await send(port, '/admin/users', { headers: bearer(await roles(['user'])) })).status, 403);
    // A flat claim named like the path is not the nested one.
    const flat = await sign(rsa, { ...demoClaims(), 'realm_access.roles': ['admin'] });
    assert.equal((await send(port, '/admin/users', { headers: bearer(flat) })).status, 403);
  });

  test('two hops: a token consumed at the gateway does not reach the service unless forwarded', async () => {
    const requireJwt = istioSelectorYaml('AuthorizationPolicy', 'foo/require-jwt', 'app: httpbin', `rules:
- from:
  - source:
      requestPrincipals: ["${ISS}/${ISS}"]`) + istioSelectorYaml('RequestAuthentication', 'foo/jwt-at-service', 'app: httpbin', `jwtRules:
- issuer: "${ISS}"
  jwksUri: "JWKS_URL"`);
    const atGateway = (forward: boolean) => RA(forward ? '  forwardOriginalToken: true' : '', 'gateway.networking.k8s.io/gateway-name: httpbin-gateway');
    const t = await sign(rsa, demoClaims());
    await load(atGateway(false) + requireJwt);
    assert.equal((await send(port, '/headers', { headers: bearer(t) })).status, 403, 'the service hop saw no token');
    assertUnauthorized(await send(port, '/headers', { headers: bearer('invalidToken') }), 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections');
    await load(atGateway(true) + requireJwt);
    const r = await send(port, '/headers', { headers: bearer(t) });
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().headers.authorization, undefined, 'the service hop, forwarding nothing, removed it in turn');
  });

  test('an unreachable JWKS: 401 "Jwks remote fetch is failed", promptly, and the gateway keeps serving', async () => {
    await load(RA().replace('JWKS_URL', 'DEAD_JWKS'));
    const t = await sign(rsa, demoClaims());
    const r = await send(port, '/headers', { headers: bearer(t) });
    assertUnauthorized(r, 'Jwks remote fetch is failed');
    assert.equal((await send(port, '/headers')).status, 200, 'requests without a token still pass');
  });
});
