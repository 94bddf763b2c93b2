// Istio RequestAuthentication end to end: YAML-shaped resources → translate →
// compiled filter → RequestContext, against a real JWKS server and real keys.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { RequestContext } from '../src/core/request.ts';
import type { Decision, CompiledFilter, Reply } from '../src/filters/types.ts';
import type { LoadedResource } from '../src/resources/types.ts';
import { formatPath } from '../src/resources/errors.ts';
import { buildRequestAuthenticationFilter } from '../src/translate/istio/request-authentication.ts';
import { parseGoDuration } from '../src/resources/kinds/check-helpers.ts';
import { checkResources } from '../src/resources/check.ts';
import { buildYaml, APPS_GATEWAY, APPS_ROUTE } from './helpers/build.ts';
import { istioRequestAuthentication, type IstioRequestAuthenticationConfig } from '../src/filters/istio-request-authentication.ts';
import { jwksSources, jwtProviders } from '../src/auth/jwt/registry.ts';
import { bareCompileContext } from './helpers/compile-context.ts';

const ISS = 'https://idp.test';
const ISS2 = 'https://other-idp.test';
const nowS = (): number => Math.floor(Date.now() / 1000);
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');

interface Key {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

let rs: Key, es: Key, attacker: Key;
let server: Server;
let base = '';
let deadPort = 0;
const hits = new Map<string, number>();
const hit = (p: string): number => hits.get(p) ?? 0;

async function key(alg: string, kid: string): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true });
  return { kid, alg, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg } };
}

function sign(k: Key, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid: k.kid, ...header }).sign(k.privateKey);
}

before(async () => {
  [rs, es, attacker] = await Promise.all([key('RS256', 'rs'), key('ES256', 'es'), key('RS256', 'rs')]);
  server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, hit(path) + 1);
    const json = (status: number, body: string): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (path.startsWith('/jwks')) return json(200, JSON.stringify({ keys: [rs.jwk, es.jwk] }));
    if (path === '/hang') return;
    if (path === '/garbage') return json(200, '<html>not a jwks</html>');
    if (path === '/oidc/.well-known/openid-configuration') return json(200, JSON.stringify({ jwks_uri: `${base}/jwks-discovered` }));
    return json(404, '{}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const tmp = createServer();
  await new Promise<void>((r) => tmp.listen(0, '127.0.0.1', r));
  deadPort = (tmp.address() as AddressInfo).port;
  await new Promise<void>((r) => tmp.close(() => r()));
});

after(async () => {
  jwtProviders.clear();
  jwksSources.clear();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

let seq = 0;
function ra(name: string, jwtRules: unknown[], extra: Record<string, unknown> = {}, namespace = 'default'): LoadedResource {
  return {
    resource: { apiVersion: 'security.istio.io/v1', kind: 'RequestAuthentication', metadata: { name, namespace }, spec: { jwtRules, ...extra } },
    seq: seq++,
  };
}

const inlineJwks = (): string => JSON.stringify({ keys: [rs.jwk, es.jwk] });

const compiled: CompiledFilter[] = [];
/** Validation (src/resources) then translate: what the pipeline does. */
function build(policies: LoadedResource[]) {
  assert.deepEqual(checkResources(policies).errors, []);
  return buildRequestAuthenticationFilter(policies);
}

function compile(policies: LoadedResource[]): CompiledFilter {
  const filter = build(policies);
  assert.ok(filter);
  // The IR must survive a trip between processes.
  const config = JSON.parse(JSON.stringify(filter.config)) as IstioRequestAuthenticationConfig;
  const f = istioRequestAuthentication.compile(config, bareCompileContext(filter.origin));
  compiled.push(f);
  return f;
}
after(() => {
  for (const f of compiled) f.close?.();
});

function ctx(init: { headers?: Record<string, string>; query?: string; method?: string; path?: string } = {}): RequestContext {
  return new RequestContext({
    method: init.method ?? 'GET',
    host: 'api.example.com',
    port: 8080,
    scheme: 'http',
    path: init.path ?? '/orders',
    query: init.query ?? '',
    headers: { ...init.headers },
    clientIp: '10.0.0.1',
    remoteIp: '10.0.0.1',
    localIp: '10.0.0.2',
    tls: undefined,
    requestId: 'r1',
    tracing: true,
  });
}

function run(f: CompiledFilter, c: RequestContext): Decision | Promise<Decision> {
  assert.ok(f.onRequest);
  return f.onRequest(c);
}

async function decide(f: CompiledFilter, c: RequestContext): Promise<Decision> {
  return await run(f, c);
}

function assertDenied(d: Decision, status: number, body: string): Reply {
  assert.ok(d, 'expected a reply');
  assert.equal(d.status, status);
  assert.equal(d.body, body);
  const www = String(d.headers?.['www-authenticate']);
  assert.match(www, /^Bearer realm="http:\/\/api\.example\.com\/[^"]*", error="invalid_token"$/);
  return d;
}

const bearer = (t: string): Record<string, string> => ({ authorization: `Bearer ${t}` });

describe('translate', () => {
  test('merges the rules of several policies, ordered by issuer, with default locations written out', () => {
    const filter = build([
      ra('b', [{ issuer: 'https://z.test', jwks: inlineJwks() }]),
      ra('a', [{ issuer: 'https://a.test', jwksUri: 'https://a.test/jwks', timeout: '1.5s', fromCookies: ['session'] }]),
      ra('empty', []),
    ]);
    assert.ok(filter);
    assert.equal(filter.type, 'istio.requestAuthentication');
    // Policies oldest first (load order stands in for creation time); rules by issuer.
    assert.equal(filter.origin, 'RequestAuthentication/default/b, RequestAuthentication/default/a');
    const cfg = filter.config as IstioRequestAuthenticationConfig;
    assert.deepEqual(cfg.rules.map((r) => r.issuer), ['https://a.test', 'https://z.test']);
    assert.deepEqual(cfg.rules[0].jwks, { type: 'remote', uri: 'https://a.test/jwks', timeoutMs: 1500, cacheDurationMs: 300_000 });
    assert.deepEqual(cfg.rules[0].fromHeaders, [], 'a cookie location replaces the defaults');
    assert.deepEqual(cfg.rules[1].fromHeaders, [{ name: 'authorization', prefix: 'Bearer ' }]);
    assert.deepEqual(cfg.rules[1].fromParams, ['access_token']);
    assert.deepEqual(cfg.rules[1].spaceDelimitedClaims, ['permission', 'scope']);
    assert.equal(cfg.rules[1].forwardOriginalToken, false);
  });

  test('issuer without jwks or jwksUri means OpenID discovery; jwksUri without issuer is allowed', () => {
    const filter = build([ra('d', [{ issuer: ISS }, { jwksUri: 'http://keys.test/jwks' }])]);
    const cfg = filter?.config as IstioRequestAuthenticationConfig;
    assert.deepEqual(cfg.rules.map((r) => r.jwks.type).sort(), ['discovery', 'remote']);
    assert.equal(cfg.rules.find((r) => r.jwks.type === 'remote')?.issuer, undefined);
  });

  test('no policy, or policies without rules, give no filter', () => {
    assert.equal(build([]), undefined);
    assert.equal(build([ra('x', [], { selector: { matchLabels: { app: 'a' } } })]), undefined);
  });

  test('bad fields are ConfigErrors with paths, from validation (src/resources), the one place the rules live', () => {
    // Semantic faults (the schema passes): keys, URLs, durations, exclusive fields.
    const bad = ra('bad', [
      { issuer: ISS, jwks: '{"keys": [' },
      { issuer: ISS, jwksUri: 'ftp://keys.test/jwks' },
      { issuer: ISS, jwksUri: 'not a url' },
      { issuer: ISS, jwksUri: 'https://k.test/j', timeout: 'soon' },
      { issuer: ISS, jwks: inlineJwks(), jwksUri: 'https://k.test/j' },
      { audiences: ['x'] },
      { issuer: ISS, jwks: inlineJwks(), outputClaimToHeaders: [{ header: 'x-a', claim: 'a' }, { header: 'X-A', claim: 'b' }] },
      { issuer: ISS, jwksUri: 'https://k.test/j', timeout: '0.1ms' },
    ]);
    bad.source = { file: 'policies.yaml', doc: 2, line: 10, lineOf: (p) => (formatPath(p) === 'spec.jwtRules[0].jwks' ? 12 : undefined) };
    // Shape faults (the schema refuses them; semantic checks do not run on such an object).
    const shape = ra('shape', [
      { issuer: ISS, jwks: inlineJwks(), outputClaimToHeaders: [{ header: 'x bad', claim: 'sub' }, { header: 'X-A', claim: '' }] },
      { issuer: ISS, jwks: inlineJwks(), fromHeaders: [{ name: 'bad name', prefix: 'Bearer ' }], fromCookies: ['bad cookie'], outputPayloadToHeader: 'x bad' },
      { issuer: ISS, jwks: inlineJwks(), forwardOriginalToken: 'yes', jwksurl: 'typo' },
    ]);
    const good = ra('good', [{ issuer: ISS, jwks: inlineJwks() }]);
    const { errors, valid } = checkResources([bad, shape, good]);
    const paths = (name: string) => errors.filter((e) => e.object === `RequestAuthentication/default/${name}`).map((e) => e.path);
    assert.deepEqual(paths('bad'), [
      'spec.jwtRules[0].jwks',
      'spec.jwtRules[1].jwksUri',
      'spec.jwtRules[2].jwksUri',
      'spec.jwtRules[3].timeout',
      'spec.jwtRules[4]',
      'spec.jwtRules[5]',
      'spec.jwtRules[6].outputClaimToHeaders[1].header',
      'spec.jwtRules[7].timeout',
    ]);
    assert.deepEqual(paths('shape').sort(), [
      'spec.jwtRules[0].outputClaimToHeaders[0].header',
      'spec.jwtRules[0].outputClaimToHeaders[1].claim',
      'spec.jwtRules[1].fromCookies[0]',
      'spec.jwtRules[1].fromHeaders[0].name',
      'spec.jwtRules[1].outputPayloadToHeader',
      'spec.jwtRules[2].forwardOriginalToken',
      'spec.jwtRules[2].jwksurl',
    ]);
    const first = errors.find((e) => e.path === 'spec.jwtRules[0].jwks');
    assert.equal(first?.line, 12, 'points at the YAML line');
    assert.equal(first?.source?.file, 'policies.yaml');
    assert.ok(!JSON.stringify(errors).includes(String(rs.jwk.n)), 'no key material in messages');
    assert.deepEqual(valid.map((r) => r.resource.metadata.name), ['good']);
    assert.equal(buildRequestAuthenticationFilter(valid)?.origin, 'RequestAuthentication/default/good');
  });

  test('unknown spec fields are reported; a non-object spec is reported', () => {
    const paths = (lr: LoadedResource) => checkResources([lr]).errors.map((e) => e.path);
    assert.deepEqual(paths(ra('x', [{ issuer: ISS, jwks: inlineJwks() }], { jwtRule: [] })), ['spec.jwtRule']);
    const weird = ra('y', []);
    weird.resource.spec = 'nope';
    assert.deepEqual(paths(weird), ['spec']);
    const notList = ra('z', []);
    notList.resource.spec = { jwtRules: { issuer: ISS } };
    assert.deepEqual(paths(notList), ['spec.jwtRules']);
  });

  test('one rule for timeout, whatever else is configured: 2h passes validate alone and with a route on the Gateway', () => {
    const policy = `apiVersion: security.istio.io/v1
kind: RequestAuthentication
metadata: { name: slow-idp, namespace: apps }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  jwtRules: [{ issuer: "${ISS}", jwksUri: "https://idp.test/jwks", timeout: 2h }]
${APPS_GATEWAY}`;
    const alone = buildYaml(policy);
    assert.deepEqual([...alone.errors, ...alone.policyErrors], []);
    const withRoute = buildYaml(policy + APPS_ROUTE);
    assert.deepEqual([...withRoute.errors, ...withRoute.policyErrors], []);
    const filter = withRoute.snapshot?.listeners[0].routes[0].filters.find((f) => f.type === 'istio.requestAuthentication');
    assert.ok(filter && filter.type === 'istio.requestAuthentication');
    assert.deepEqual(filter.config.rules[0].jwks, { type: 'remote', uri: 'https://idp.test/jwks', timeoutMs: 7_200_000, cacheDurationMs: 300_000 });
    assert.equal(withRoute.snapshot?.status.find((x) => x.object === 'RequestAuthentication/apps/slow-idp')?.accepted, true);
    // And what is invalid is invalid without any route too.
    const tooShort = buildYaml(policy.replace('timeout: 2h', 'timeout: 0s'));
    assert.deepEqual(tooShort.errors.map((e) => e.path), ['spec.jwtRules[0].timeout']);
  });



  test('durations parse like Go/protobuf durations', () => {
    assert.equal(parseGoDuration('5s'), 5000);
    assert.equal(parseGoDuration('1.5s'), 1500);
    assert.equal(parseGoDuration('100ms'), 100);
    assert.equal(parseGoDuration('1m30s'), 90_000);
    for (const bad of ['', 's', '5', '-5s', '5 s', '1.5.5s', 'abc', '5sx']) assert.equal(parseGoDuration(bad), undefined, bad);
  });
});

describe('request authentication', () => {
  let f: CompiledFilter;
  before(() => {
    f = compile([ra('jwt', [{ issuer: ISS, audiences: ['orders'], jwks: inlineJwks() }])]);
  });

  test('no token: the request goes on unauthenticated', () => {
    const c = ctx();
    assert.equal(run(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, undefined);
    assert.deepEqual(c.trace?.map((t) => t.decision), ['continue']);
  });

  test('another Authorization scheme is not a token', () => {
    const c = ctx({ headers: { authorization: 'Basic dXNlcjpwYXNz' } });
    assert.equal(run(f, c), undefined);
    assert.equal(c.headers.authorization, 'Basic dXNlcjpwYXNz');
  });

  test('a valid token: identity set synchronously, token stripped before going upstream', async () => {
    const t = await sign(rs, { iss: ISS, sub: 'alice', aud: 'orders', azp: 'web', scope: 'read write', exp: nowS() + 600 });
    const c = ctx({ headers: bearer(t) });
    const d = run(f, c);
    assert.equal(d instanceof Promise, false);
    assert.equal(d, undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/alice`);
    assert.deepEqual(c.identity.audiences, ['orders']);
    assert.equal(c.identity.presenter, 'web');
    assert.deepEqual(c.identity.claims?.scope, ['read', 'write'], 'scope split for authorization');
    assert.equal(c.headers.authorization, undefined, 'forwardOriginalToken defaults to false');
    const allow = c.trace?.find((e) => e.decision === 'allow');
    assert.equal(allow?.origin, 'RequestAuthentication/default/jwt');
    assert.match(allow?.reason ?? '', /jwtRules\[0\]/);
  });

  const cases: [string, () => Promise<string>, number, string][] = [
    ['expired', () => sign(rs, { iss: ISS, sub: 'a', aud: 'orders', exp: nowS() - 600 }), 401, 'Jwt is expired'],
    ['not yet valid', () => sign(rs, { iss: ISS, sub: 'a', aud: 'orders', nbf: nowS() + 600 }), 401, 'Jwt not yet valid'],
    ['from an unknown issuer', () => sign(rs, { iss: 'https://evil.test', sub: 'a', aud: 'orders' }), 401, 'Jwt issuer is not configured'],
    ['for another audience', () => sign(rs, { iss: ISS, sub: 'a', aud: 'billing' }), 403, 'Audiences in Jwt are not allowed'],
    ['signed by a forger reusing the kid', () => sign(attacker, { iss: ISS, sub: 'a', aud: 'orders' }), 401, 'Jwt verification fails'],
    [
      'with a tampered payload',
      async () => {
        const [h, , s] = (await sign(rs, { iss: ISS, sub: 'a', aud: 'orders' })).split('.');
        return `${h}.${b64({ iss: ISS, sub: 'admin', aud: 'orders' })}.${s}`;
      },
      401,
      'Jwt verification fails',
    ],
    ['with alg none', async () => `${b64({ alg: 'none' })}.${b64({ iss: ISS, sub: 'root', aud: 'orders' })}.x`, 401, 'Jwt header [alg] is not supported'],
    [
      'HS256-signed with the RSA public key',
      async () => {
        const input = `${b64({ alg: 'HS256', kid: 'rs' })}.${b64({ iss: ISS, sub: 'root', aud: 'orders' })}`;
        const pem = createPublicKey({ key: rs.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
        return `${input}.${createHmac('sha256', pem).update(input).digest('base64url')}`;
      },
      401,
      "Jwks doesn't have key to match kid or alg from Jwt",
    ],
    ['that is not a JWT', async () => 'garbage', 401, 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections'],
  ];
  for (const [what, make, status, body] of cases) {
    test(`a token ${what} is refused with ${status}, regardless of authorization`, async () => {
      const c = ctx({ headers: bearer(await make()) });
      const d = await decide(f, c);
      assertDenied(d, status, body);
      assert.equal(c.identity.requestPrincipal, undefined);
      const deny = c.trace?.find((e) => e.decision === 'deny');
      assert.equal(deny?.filter, 'istio.requestAuthentication');
      assert.ok(deny?.reason.includes(body));
    });
  }

  test('the realm never echoes the query (an access_token would leak back)', async () => {
    const t = await sign(rs, { iss: ISS, sub: 'a', aud: 'orders', exp: nowS() - 600 });
    const d = await decide(f, ctx({ query: `access_token=${t}`, path: '/a"b' }));
    const r = assertDenied(d, 401, 'Jwt is expired');
    assert.ok(!String(r.headers?.['www-authenticate']).includes(t));
    assert.ok(!String(r.headers?.['www-authenticate']).includes('a"b'));
  });

  test('a valid header token and an invalid query token: refused (every token must verify)', async () => {
    const good = await sign(rs, { iss: ISS, sub: 'a', aud: 'orders' });
    const bad = await sign(attacker, { iss: ISS, sub: 'b', aud: 'orders' });
    assertDenied(await decide(f, ctx({ headers: bearer(good), query: `access_token=${bad}` })), 401, 'Jwt verification fails');
  });

  test('a CORS preflight is not authenticated', async () => {
    const c = ctx({ method: 'OPTIONS', headers: { origin: 'https://app.test', 'access-control-request-method': 'POST', authorization: 'Bearer garbage' } });
    assert.equal(run(f, c), undefined);
  });
});

describe('token locations and outputs', () => {
  test('custom header with prefix; other locations are then not looked at', async () => {
    const f = compile([ra('hdr', [{ issuer: ISS, jwks: inlineJwks(), fromHeaders: [{ name: 'X-Jwt-Assertion', prefix: 'Token ' }] }])]);
    const t = await sign(rs, { iss: ISS, sub: 'h' });
    const c = ctx({ headers: { 'x-jwt-assertion': `Token ${t}` } });
    assert.equal(run(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/h`);
    assert.equal(c.headers['x-jwt-assertion'], undefined);
    const noPrefix = ctx({ headers: { 'x-jwt-assertion': t } });
    assert.equal(run(f, noPrefix), undefined, 'without the prefix there is no token (Envoy)');
    assert.equal(noPrefix.identity.requestPrincipal, undefined);
    const inAuthorization = ctx({ headers: bearer(t) });
    assert.equal(run(f, inAuthorization), undefined);
    assert.equal(inAuthorization.identity.requestPrincipal, undefined, 'Authorization is not a location of this rule');
  });

  test('query parameter: removed from the upstream query, other parameters untouched', async () => {
    const f = compile([ra('qp', [{ issuer: ISS, jwks: inlineJwks(), fromParams: ['token'] }])]);
    const t = await sign(rs, { iss: ISS, sub: 'q' });
    const c = ctx({ query: `a=%20x&token=${t}&b=2` });
    assert.equal(run(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/q`);
    assert.equal(c.query, 'a=%20x&b=2');
  });

  test('the default access_token query parameter', async () => {
    const f = compile([ra('dq', [{ issuer: ISS, jwks: inlineJwks() }])]);
    const c = ctx({ query: `access_token=${await sign(es, { iss: ISS, sub: 'd' })}` });
    assert.equal(run(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/d`);
    assert.equal(c.query, '');
  });

  test('cookie: the token cookie is removed, the others kept', async () => {
    const f = compile([ra('ck', [{ issuer: ISS, jwks: inlineJwks(), fromCookies: ['session'] }])]);
    const t = await sign(rs, { iss: ISS, sub: 'c' });
    const c = ctx({ headers: { cookie: `theme=dark; session=${t}; lang=en` } });
    assert.equal(run(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/c`);
    assert.equal(c.headers.cookie, 'theme=dark; lang=en');
    const only = ctx({ headers: { cookie: `session=${t}` } });
    run(f, only);
    assert.equal(only.headers.cookie, undefined);
  });

  test('forwardOriginalToken: true keeps the token', async () => {
    const f = compile([ra('fwd', [{ issuer: ISS, jwks: inlineJwks(), forwardOriginalToken: true, fromParams: ['t'], fromHeaders: [{ name: 'authorization', prefix: 'Bearer ' }] }])]);
    const t = await sign(rs, { iss: ISS, sub: 'f' });
    const c = ctx({ headers: bearer(t), query: `t=${t}` });
    assert.equal(run(f, c), undefined);
    assert.equal(c.headers.authorization, `Bearer ${t}`);
    assert.equal(c.query, `t=${t}`);
  });

  test('outputPayloadToHeader and outputClaimToHeaders, with nested and non-string claims; forged inputs removed', async () => {
    const f = compile([
      ra('out', [
        {
          issuer: ISS,
          jwks: inlineJwks(),
          outputPayloadToHeader: 'X-Jwt-Payload',
          outputClaimToHeaders: [
            { header: 'x-group', claim: 'nested.key.group' },
            { header: 'x-count', claim: 'count' },
            { header: 'x-ratio', claim: 'ratio' },
            { header: 'x-admin', claim: 'admin' },
            { header: 'x-obj', claim: 'nested' },
            { header: 'x-list', claim: 'roles' },
            { header: 'x-missing', claim: 'nope' },
            { header: 'x-evil', claim: 'evil' },
            { header: 'x-sub', claim: 'sub' },
          ],
        },
      ]),
    ]);
    const claims = { iss: ISS, sub: 'o', nested: { key: { group: 'eng' } }, count: 42, ratio: 1.5, admin: false, roles: ['a', 'b'], evil: 'a\r\nx-injected: 1' };
    const t = await sign(rs, claims);
    const forged = { 'x-jwt-payload': 'forged', 'x-group': 'admins', 'x-missing': 'forged', 'x-obj': 'forged', 'x-evil': 'forged' };
    const c = ctx({ headers: { ...bearer(t), ...forged } });
    assert.equal(run(f, c), undefined);
    assert.deepEqual(JSON.parse(Buffer.from(String(c.headers['x-jwt-payload']), 'base64url').toString()), claims);
    assert.equal(c.headers['x-group'], 'eng');
    assert.equal(c.headers['x-count'], '42');
    assert.equal(c.headers['x-ratio'], '1.500000', 'Envoy formats doubles with std::to_string');
    assert.equal(c.headers['x-admin'], 'false');
    assert.equal(c.headers['x-sub'], 'o');
    for (const h of ['x-obj', 'x-list', 'x-missing', 'x-evil']) assert.equal(c.headers[h], undefined, h);
    // Without any token the forged headers are still removed.
    const noToken = ctx({ headers: forged });
    assert.equal(run(f, noToken), undefined);
    for (const h of Object.keys(forged)) assert.equal(noToken.headers[h], undefined, h);
  });

  test('several policies: each issuer is accepted at its own locations only', async () => {
    const f = compile([
      ra('one', [{ issuer: ISS, jwks: inlineJwks() }]),
      ra('two', [{ issuer: ISS2, jwks: inlineJwks(), fromHeaders: [{ name: 'x-token', prefix: '' }] }]),
    ]);
    const t1 = await sign(rs, { iss: ISS, sub: '1' });
    const t2 = await sign(es, { iss: ISS2, sub: '2' });
    const a = ctx({ headers: bearer(t1) });
    assert.equal(run(f, a), undefined);
    assert.equal(a.identity.requestPrincipal, `${ISS}/1`);
    const b = ctx({ headers: { 'x-token': t2 } });
    assert.equal(run(f, b), undefined);
    assert.equal(b.identity.requestPrincipal, `${ISS2}/2`);
    assertDenied(await decide(f, ctx({ headers: bearer(t2) })), 401, 'Jwt issuer is not configured');
  });

  test('JWT identity is per hop: the destination hop does not inherit a stripped token', async () => {
    const gateway = compile([ra('gw', [{ issuer: ISS, jwks: inlineJwks() }])]);
    const destination = compile([ra('dest', [{ issuer: ISS, jwks: inlineJwks() }], {}, 'shop')]);
    const c = ctx({ headers: bearer(await sign(rs, { iss: ISS, sub: 'alice' })) });
    assert.equal(run(gateway, c), undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/alice`);
    assert.equal(run(destination, c), undefined);
    assert.equal(c.identity.requestPrincipal, undefined);
  });
});

describe('remote JWKS through the filter', () => {
  test('first use fetches; then cache hits and new tokens are synchronous', async () => {
    const f = compile([ra('remote', [{ issuer: ISS, jwksUri: `${base}/jwks-a` }])]);
    const t = await sign(rs, { iss: ISS, sub: 'r', exp: nowS() + 600 });
    const first = run(f, ctx({ headers: bearer(t) }));
    assert.ok(first instanceof Promise, 'keys are fetched on first use');
    assert.equal(await first, undefined);
    const c = ctx({ headers: bearer(t) });
    const second = run(f, c);
    assert.equal(second instanceof Promise, false, 'the cache hit path is synchronous');
    assert.equal(second, undefined);
    assert.equal(c.identity.requestPrincipal, `${ISS}/r`);
    const other = run(f, ctx({ headers: bearer(await sign(es, { iss: ISS, sub: 's' })) }));
    assert.equal(other instanceof Promise, false, 'a new token verifies against the cached keys');
    assert.equal(hit('/jwks-a'), 1);
  });

  test('a rule without issuer (jwksUri only) accepts any iss its keys verify', async () => {
    const f = compile([ra('anyiss', [{ jwksUri: `${base}/jwks-any` }])]);
    const c = ctx({ headers: bearer(await sign(rs, { iss: 'https://dynamic.test/tenant-7', sub: 'u' })) });
    assert.equal(await decide(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, 'https://dynamic.test/tenant-7/u');
    assertDenied(await decide(f, ctx({ headers: bearer(await sign(attacker, { iss: 'x', sub: 'u' })) })), 401, 'Jwt verification fails');
  });

  test('OpenID discovery from the issuer', async () => {
    const issuer = `${base}/oidc`;
    const f = compile([ra('oidc', [{ issuer }])]);
    const c = ctx({ headers: bearer(await sign(rs, { iss: issuer, sub: 'disc' })) });
    assert.equal(await decide(f, c), undefined);
    assert.equal(c.identity.requestPrincipal, `${issuer}/disc`);
  });

  test('JWKS server down: that issuer fails closed, another issuer is not affected', async () => {
    const f = compile([
      ra('down', [{ issuer: ISS, jwksUri: `http://127.0.0.1:${deadPort}/jwks` }]),
      ra('up', [{ issuer: ISS2, jwks: inlineJwks() }]),
    ]);
    assertDenied(await decide(f, ctx({ headers: bearer(await sign(rs, { iss: ISS, sub: 'x' })) })), 401, 'Jwks remote fetch is failed');
    const ok = run(f, ctx({ headers: bearer(await sign(rs, { iss: ISS2, sub: 'y' })) }));
    assert.equal(ok instanceof Promise, false);
    assert.equal(ok, undefined);
  });

  test('a hanging JWKS server fails closed within the rule timeout', async () => {
    const f = compile([ra('hang', [{ issuer: ISS, jwksUri: `${base}/hang`, timeout: '200ms' }])]);
    const t0 = Date.now();
    const c = ctx({ headers: bearer(await sign(rs, { iss: ISS, sub: 'x' })) });
    assertDenied(await decide(f, c), 401, 'Jwks remote fetch is failed');
    assert.ok(Date.now() - t0 < 4000);
    assert.match(c.trace?.find((e) => e.decision === 'deny')?.reason ?? '', /timed out after 200 ms/);
  });

  test('a garbage JWKS fails closed', async () => {
    const f = compile([ra('garbage', [{ issuer: ISS, jwksUri: `${base}/garbage` }])]);
    assertDenied(await decide(f, ctx({ headers: bearer(await sign(rs, { iss: ISS, sub: 'x' })) })), 401, 'Jwks remote fetch is failed');
  });

  test('successive snapshots share the JWKS and the token cache; close() releases them', async () => {
    jwtProviders.lingerMs = 0;
    jwksSources.lingerMs = 0;
    try {
      const policy = (): LoadedResource => ra('shared', [{ issuer: ISS, jwksUri: `${base}/jwks-shared` }]);
      const t = await sign(rs, { iss: ISS, sub: 'z', exp: nowS() + 600 });
      const s1 = compile([policy()]);
      assert.equal(await decide(s1, ctx({ headers: bearer(t) })), undefined);
      const s2 = compile([policy()]); // the reload: compiled before the old one is closed
      s1.close?.();
      const again = run(s2, ctx({ headers: bearer(t) }));
      assert.equal(again instanceof Promise, false, 'verified token still cached after the reload');
      assert.equal(run(s2, ctx({ headers: bearer(await sign(es, { iss: ISS, sub: 'n' })) })) instanceof Promise, false);
      assert.equal(hit('/jwks-shared'), 1, 'no refetch on reload');
      s2.close?.();
      const s3 = compile([policy()]);
      const fresh = run(s3, ctx({ headers: bearer(t) }));
      assert.ok(fresh instanceof Promise, 'after the last release the state is gone');
      assert.equal(await fresh, undefined);
      assert.equal(hit('/jwks-shared'), 2);
      s3.close?.();
    } finally {
      jwtProviders.lingerMs = 60_000;
      jwksSources.lingerMs = 60_000;
    }
  });
});
