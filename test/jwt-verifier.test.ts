// The JWT verifier against real keys, real signatures and a real JWKS server.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHmac, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { JwtProvider, type JwtProviderConfig, type VerifyResult } from '../src/auth/jwt/provider.ts';
import { selectAndVerify } from '../src/auth/jwt/select.ts';
import { acquireJwtProvider, jwksSources, jwtProviders } from '../src/auth/jwt/registry.ts';
import { importJwks } from '../src/auth/jwt/keys.ts';
import { failureHttpStatus, failureMessage } from '../src/auth/jwt/status.ts';
import { cookieValue, queryParam, removeCookie, removeQueryParam, tokenFromHeader } from '../src/auth/jwt/extract.ts';
import { freePort } from './helpers/ports.ts';

const ISS = 'https://issuer.test';
const b64 = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
const nowS = (): number => Math.floor(Date.now() / 1000);

interface KeyPair {
  kid: string;
  alg: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function keyPair(alg: string, kid: string, opts: { crv?: string } = {}): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...opts });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, jwk };
}

async function sign(k: KeyPair, claims: Record<string, unknown>, header: Record<string, unknown> = {}): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg: k.alg, kid: k.kid, ...header }).sign(k.privateKey);
}

function isPromise(v: unknown): v is Promise<unknown> {
  return v instanceof Promise;
}

async function settle(r: VerifyResult | Promise<VerifyResult>): Promise<VerifyResult> {
  return await r;
}

function failureOf(r: VerifyResult): string {
  return r.ok ? 'ok' : r.failure;
}

let rs: KeyPair, es: KeyPair, ed: KeyPair, ps: KeyPair, rsOther: KeyPair, rotated: KeyPair;
let server: Server;
let base = '';
let jwksDoc: { keys: JWK[] } = { keys: [] };
const hits = new Map<string, number>();
const hit = (path: string): number => hits.get(path) ?? 0;
let deadPort = 0;
let toggleUp = true;

before(async () => {
  [rs, es, ed, ps, rsOther, rotated] = await Promise.all([
    keyPair('RS256', 'rs1'),
    keyPair('ES256', 'es1'),
    keyPair('EdDSA', 'ed1', { crv: 'Ed25519' }),
    keyPair('PS256', 'ps1'),
    keyPair('RS256', 'rs1'), // same kid, different key: a forger's key
    keyPair('RS256', 'rs2'),
  ]);
  jwksDoc = { keys: [rs.jwk, es.jwk, ed.jwk, ps.jwk] };
  server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    hits.set(path, hit(path) + 1);
    const json = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(typeof body === 'string' ? body : JSON.stringify(body));
    };
    switch (path) {
      case '/jwks':
      case '/jwks-flood':
      case '/jwks-rotate':
        return json(200, jwksDoc);
      case '/jwks-toggle':
        return toggleUp ? json(200, jwksDoc) : json(500, {});
      case '/hang':
        return; // never answers
      case '/garbage':
        return json(200, 'this is not json {');
      case '/nokeys':
        return json(200, { keys: [{ kty: 'RSA', n: 'AQAB', e: 'AQAB' }] });
      case '/error':
        return json(500, { error: 'boom' });
      case '/redirect':
        res.writeHead(302, { location: `${base}/jwks` });
        return res.end();
      case '/huge':
        return json(200, { keys: [], pad: 'x'.repeat(2 << 20) });
      case '/oidc/.well-known/openid-configuration':
        return json(200, { issuer: `${base}/oidc`, jwks_uri: `${base}/jwks` });
      case '/badoidc/.well-known/openid-configuration':
        return json(200, { issuer: `${base}/badoidc`, jwks_uri: 'file:///etc/passwd' });
      default:
        return json(404, {});
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  deadPort = await freePort(); // nothing listens there: outside the ephemeral range, never bound
});

after(async () => {
  jwtProviders.clear();
  jwksSources.clear();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

const inline = (extra: Partial<JwtProviderConfig> = {}): JwtProviderConfig => ({
  issuer: ISS,
  jwks: { type: 'inline', jwks: JSON.stringify(jwksDoc) },
  ...extra,
});

describe('signature algorithms', () => {
  for (const name of ['rs', 'es', 'ed', 'ps'] as const) {
    test(`a valid ${name} token verifies synchronously with an inline JWKS`, async () => {
      const k = { rs, es, ed, ps }[name];
      const p = new JwtProvider(inline({ audiences: ['api'] }));
      const token = await sign(k, { iss: ISS, sub: 'alice', aud: ['api', 'other'], azp: 'cli', exp: nowS() + 600 });
      const r = p.verify(token);
      assert.equal(isPromise(r), false, 'inline keys need no await');
      assert.ok(!isPromise(r) && r.ok, `expected ok, got ${failureOf(r as VerifyResult)}`);
      assert.equal(r.jwt.principal, `${ISS}/alice`);
      assert.deepEqual(r.jwt.audiences, ['api', 'other']);
      assert.equal(r.jwt.presenter, 'cli');
      assert.ok(Object.isFrozen(r.jwt.payload), 'payload is shared through the cache, so frozen');
      p.dispose();
    });
  }

  test('HMAC with an oct key from the JWKS verifies; a wrong secret does not', () => {
    const secret = Buffer.from('a-shared-secret-of-32-bytes-long');
    const jwks = JSON.stringify({ keys: [{ kty: 'oct', kid: 'h1', alg: 'HS256', k: secret.toString('base64url') }] });
    const p = new JwtProvider({ issuer: ISS, jwks: { type: 'inline', jwks } });
    const input = `${b64({ alg: 'HS256', kid: 'h1' })}.${b64({ iss: ISS, sub: 's' })}`;
    const good = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
    const bad = `${input}.${createHmac('sha256', 'nope').update(input).digest('base64url')}`;
    assert.equal(failureOf(p.verify(good) as VerifyResult), 'ok');
    assert.equal(failureOf(p.verify(bad) as VerifyResult), 'JwtVerificationFail');
    p.dispose();
  });
});

describe('claims and time', () => {
  test('expired beyond the 60 s skew is refused; within the skew it passes (Envoy)', async () => {
    const p = new JwtProvider(inline());
    const expired = await sign(rs, { iss: ISS, sub: 'a', exp: nowS() - 120 });
    const withinSkew = await sign(rs, { iss: ISS, sub: 'a', exp: nowS() - 30 });
    assert.equal(failureOf(p.verify(expired) as VerifyResult), 'JwtExpired');
    assert.equal(failureMessage('JwtExpired'), 'Jwt is expired');
    assert.equal(failureOf(p.verify(withinSkew) as VerifyResult), 'ok');
    p.dispose();
  });

  test('nbf in the future is refused; a token without exp is accepted', async () => {
    const p = new JwtProvider(inline());
    assert.equal(failureOf(p.verify(await sign(rs, { iss: ISS, sub: 'a', nbf: nowS() + 300 })) as VerifyResult), 'JwtNotYetValid');
    assert.equal(failureOf(p.verify(await sign(rs, { iss: ISS, sub: 'a' })) as VerifyResult), 'ok');
    p.dispose();
  });

  test('wrong issuer is refused', async () => {
    const p = new JwtProvider(inline());
    assert.equal(failureOf(p.verify(await sign(rs, { iss: 'https://evil.test', sub: 'a' })) as VerifyResult), 'JwtUnknownIssuer');
    p.dispose();
  });

  test('wrong audience is refused with 403; scheme and trailing slash are ignored', async () => {
    const p = new JwtProvider(inline({ audiences: ['https://api.example.com/'] }));
    const wrong = p.verify(await sign(rs, { iss: ISS, sub: 'a', aud: 'https://other.example.com' })) as VerifyResult;
    assert.equal(failureOf(wrong), 'JwtAudienceNotAllowed');
    assert.equal(failureHttpStatus('JwtAudienceNotAllowed'), 403);
    assert.equal(failureHttpStatus('JwtExpired'), 401);
    assert.equal(failureOf(p.verify(await sign(rs, { iss: ISS, sub: 'a', aud: 'api.example.com' })) as VerifyResult), 'ok');
    assert.equal(failureOf(p.verify(await sign(rs, { iss: ISS, sub: 'a' })) as VerifyResult), 'JwtAudienceNotAllowed', 'no aud at all');
    p.dispose();
  });

  test('space-delimited claims are split for authorization, the raw payload is kept', async () => {
    const p = new JwtProvider(inline({ spaceDelimitedClaims: ['scope', 'permission'] }));
    const r = p.verify(await sign(rs, { iss: ISS, sub: 'a', scope: 'read  write', permission: ['x'] })) as VerifyResult;
    assert.ok(r.ok);
    assert.deepEqual(r.jwt.claims.scope, ['read', 'write']);
    assert.deepEqual(r.jwt.claims.permission, ['x'], 'non-strings are left alone');
    assert.equal(r.jwt.payload.scope, 'read  write');
    p.dispose();
  });
});

describe('forged and malformed tokens', () => {
  test('a signature from another key with the same kid fails', async () => {
    const p = new JwtProvider(inline());
    assert.equal(failureOf(p.verify(await sign(rsOther, { iss: ISS, sub: 'a' })) as VerifyResult), 'JwtVerificationFail');
    p.dispose();
  });

  test('a tampered payload fails', async () => {
    const p = new JwtProvider(inline());
    const [h, , s] = (await sign(rs, { iss: ISS, sub: 'alice' })).split('.');
    assert.equal(failureOf(p.verify(`${h}.${b64({ iss: ISS, sub: 'admin' })}.${s}`) as VerifyResult), 'JwtVerificationFail');
    p.dispose();
  });

  test('alg "none" is refused, with or without a signature part', () => {
    const p = new JwtProvider(inline());
    const body = `${b64({ alg: 'none' })}.${b64({ iss: ISS, sub: 'root' })}`;
    assert.equal(failureOf(p.verify(`${body}.`) as VerifyResult), 'JwtBadFormat');
    assert.equal(failureOf(p.verify(`${body}.AAAA`) as VerifyResult), 'JwtHeaderNotImplementedAlg');
    p.dispose();
  });

  test('alg confusion: HS256 keyed with the RSA public key is refused (key with and without alg)', () => {
    const noAlg = { ...rs.jwk };
    delete noAlg.alg;
    const pinned = new JwtProvider(inline());
    const unpinned = new JwtProvider({ issuer: ISS, jwks: { type: 'inline', jwks: JSON.stringify({ keys: [noAlg] }) } });
    const pem = createPublicKey({ key: rs.jwk as never, format: 'jwk' }).export({ type: 'spki', format: 'pem' });
    for (const kid of ['rs1', undefined]) {
      const input = `${b64({ alg: 'HS256', ...(kid ? { kid } : {}) })}.${b64({ iss: ISS, sub: 'root' })}`;
      for (const secret of [pem, JSON.stringify(rs.jwk), rs.jwk.n as string]) {
        const token = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
        for (const p of [pinned, unpinned]) assert.equal(failureOf(p.verify(token) as VerifyResult), 'JwksKidAlgMismatch', `kid=${kid}`);
      }
    }
    pinned.dispose();
    unpinned.dispose();
  });

  test("a token alg the key does not pin (PS256 on an RS256 key) is refused", async () => {
    const jwks = JSON.stringify({ keys: [rs.jwk] });
    const p = new JwtProvider({ issuer: ISS, jwks: { type: 'inline', jwks } });
    const { privateKey } = await generateKeyPair('PS256', { extractable: true });
    const t = await new SignJWT({ iss: ISS, sub: 'a' }).setProtectedHeader({ alg: 'PS256', kid: 'rs1' }).sign(privateKey);
    assert.equal(failureOf(p.verify(t) as VerifyResult), 'JwksKidAlgMismatch');
    p.dispose();
  });

  test('an ES384 token is not checked against a P-256 key', async () => {
    const noAlg = { ...es.jwk };
    delete noAlg.alg;
    const p = new JwtProvider({ issuer: ISS, jwks: { type: 'inline', jwks: JSON.stringify({ keys: [noAlg] }) } });
    const k384 = await keyPair('ES384', 'es1', { crv: 'P-384' });
    assert.equal(failureOf(p.verify(await sign(k384, { iss: ISS, sub: 'a' })) as VerifyResult), 'JwksKidAlgMismatch');
    p.dispose();
  });

  test('garbage never throws and gets the parse error Envoy would give', () => {
    const p = new JwtProvider(inline());
    const cases: [string, string][] = [
      ['', 'JwtBadFormat'],
      ['abc', 'JwtBadFormat'],
      ['a.b', 'JwtBadFormat'],
      ['a.b.c.d', 'JwtBadFormat'],
      ['a.b.c.d.e', 'JwtBadFormat'],
      ['..', 'JwtBadFormat'],
      ['!!!.e30.AA', 'JwtHeaderParseErrorBadBase64'],
      [`${b64([1])}.e30.AA`, 'JwtHeaderParseErrorBadJson'],
      [`${b64({ alg: 5 })}.e30.AA`, 'JwtHeaderBadAlg'],
      [`${b64({ alg: 'RS256', kid: 7 })}.e30.AA`, 'JwtHeaderBadKid'],
      [`${b64({ alg: 'RS256' })}.%%%.AA`, 'JwtPayloadParseErrorBadBase64'],
      [`${b64({ alg: 'RS256' })}.${b64([1, 2])}.AA`, 'JwtPayloadParseErrorBadJson'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: 1 })}.AA`, 'JwtPayloadParseErrorIssNotString'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS, exp: '1' })}.AA`, 'JwtPayloadParseErrorExpNotInteger'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS, aud: [1] })}.AA`, 'JwtPayloadParseErrorAudNotString'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS })}.@@`, 'JwtSignatureParseErrorBadBase64'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS, sub: 2 })}.AA`, 'JwtPayloadParseErrorSubNotString'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS, iat: 'x' })}.AA`, 'JwtPayloadParseErrorIatNotInteger'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS, nbf: -1 })}.AA`, 'JwtPayloadParseErrorNbfNotPositive'],
      [`${b64({ alg: 'RS256' })}.${b64({ iss: ISS, jti: 1 })}.AA`, 'JwtPayloadParseErrorJtiNotString'],
      [`${b64({ alg: 'none', kid: 7 })}.e30.AA`, 'JwtHeaderNotImplementedAlg'],
      [`${b64({ alg: 'RS256', crit: ['b64'] })}.${b64({ iss: ISS })}.AA`, 'JwtVerificationFail'],
      [`${b64({ alg: 'RS256', kid: 'rs1' })}.${b64({ iss: ISS })}.${'A'.repeat(20000)}`, 'JwtVerificationFail'],
    ];
    for (const [token, want] of cases) assert.equal(failureOf(p.verify(token) as VerifyResult), want, token.slice(0, 40));
    p.dispose();
  });

  test('JWKS import skips unusable keys and refuses sets with none usable', () => {
    const small = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'jwk' });
    assert.equal(importJwks(JSON.stringify({ keys: [small] })).ok, false, 'RSA below 2048 bits');
    assert.equal(importJwks('{').ok, false);
    assert.equal(importJwks('[]').ok, false);
    assert.equal(importJwks({ keys: 'x' }).ok, false);
    const r = importJwks({ keys: [{ kty: 'RSA', alg: 'HS256', n: rs.jwk.n, e: rs.jwk.e }, rs.jwk, { kty: 'EC', crv: 'P-256' }] });
    assert.ok(r.ok);
    assert.equal(r.set.keys.length, 1);
    assert.equal(r.skipped.length, 2);
    assert.ok(!r.skipped.join(' ').includes(rs.jwk.n as string), 'reasons never echo key material');
  });
});

describe('token cache', () => {
  test('a cache hit is synchronous and returns the cached result', async () => {
    const p = new JwtProvider({ issuer: ISS, jwks: { type: 'remote', uri: `${base}/jwks`, timeoutMs: 2000, cacheDurationMs: 60_000 } });
    const token = await sign(rs, { iss: ISS, sub: 'a', exp: nowS() + 600 });
    const first = p.verify(token);
    assert.equal(isPromise(first), true, 'first use fetches the JWKS');
    const r1 = await first;
    assert.ok(r1.ok);
    const second = p.verify(token);
    assert.equal(isPromise(second), false, 'the hit path has no await');
    assert.equal(second, r1);
    assert.equal(p.lookup(token, Date.now()), r1);
    p.dispose();
  });

  test('a cached token is never served past exp (+ skew)', async () => {
    let now = Date.now();
    const p = new JwtProvider({ ...inline(), clockSkewSeconds: 0 }, { clock: () => now });
    const exp = Math.floor(now / 1000) + 10;
    const token = await sign(rs, { iss: ISS, sub: 'a', exp });
    assert.equal(failureOf(p.verify(token) as VerifyResult), 'ok');
    now = exp * 1000 - 1;
    assert.equal(failureOf(p.verify(token) as VerifyResult), 'ok');
    assert.notEqual(p.lookup(token, now), undefined, 'still cached before exp');
    now = exp * 1000 + 1001;
    assert.equal(p.lookup(token, now), undefined, 'dropped once expired');
    assert.equal(failureOf(p.verify(token) as VerifyResult), 'JwtExpired');
    p.dispose();
  });

  test('the cache is bounded', async () => {
    const p = new JwtProvider({ ...inline(), cacheSize: 2 });
    const tokens = await Promise.all([1, 2, 3].map((i) => sign(rs, { iss: ISS, sub: `u${i}` })));
    for (const t of tokens) p.verify(t);
    const now = Date.now();
    assert.equal(p.lookup(tokens[0], now), undefined, 'eldest evicted');
    assert.notEqual(p.lookup(tokens[2], now), undefined);
    p.dispose();
  });
  test('refused tokens are remembered apart: a flood of bad tokens cannot evict a verified one', async () => {
    const p = new JwtProvider({ ...inline(), cacheSize: 4 });
    const good = await sign(rs, { iss: ISS, sub: 'good' });
    assert.equal(failureOf(p.verify(good) as VerifyResult), 'ok');
    const [h, payload] = good.split('.');
    for (let i = 0; i < 300; i++) {
      const forged = `${h}.${payload}.${Buffer.from(`bad-signature-${i}`).toString('base64url')}`;
      assert.equal(failureOf(p.verify(forged) as VerifyResult), 'JwtVerificationFail');
    }
    assert.notEqual(p.lookup(good, Date.now()), undefined);
    const repeated = `${h}.${payload}.${Buffer.from('bad-signature-299').toString('base64url')}`;
    assert.equal(failureOf(p.lookup(repeated, Date.now()) as VerifyResult), 'JwtVerificationFail', 'recent refusals are cached');
    const huge = `${h}.${payload}.${'A'.repeat(8000)}`;
    p.verify(huge);
    assert.equal(p.lookup(huge, Date.now()), undefined, 'large refused tokens are not kept');
    p.dispose();
  });
});

describe('remote JWKS', () => {
  const remote = (path: string, extra: Record<string, unknown> = {}): JwtProviderConfig => ({
    issuer: ISS,
    jwks: { type: 'remote', uri: `${base}${path}`, timeoutMs: 2000, cacheDurationMs: 300_000, ...extra },
  });

  test('keys are fetched once and reused for other tokens', async () => {
    const p = new JwtProvider(remote('/jwks'));
    const before = hit('/jwks');
    assert.equal(failureOf(await settle(p.verify(await sign(es, { iss: ISS, sub: '1' })))), 'ok');
    const second = p.verify(await sign(ed, { iss: ISS, sub: '2' }));
    assert.equal(isPromise(second), false, 'keys cached: a new token verifies without await');
    assert.equal(failureOf(second as VerifyResult), 'ok');
    assert.equal(hit('/jwks') - before, 1);
    p.dispose();
  });

  test('an unknown kid refetches the JWKS (key rotation)', async () => {
    const p = new JwtProvider(remote('/jwks-rotate', { cooldownMs: 0 }));
    assert.equal(failureOf(await settle(p.verify(await sign(rs, { iss: ISS, sub: '1' })))), 'ok');
    jwksDoc = { keys: [...jwksDoc.keys, rotated.jwk] };
    try {
      const before = hit('/jwks-rotate');
      assert.equal(failureOf(await settle(p.verify(await sign(rotated, { iss: ISS, sub: '2' })))), 'ok');
      assert.equal(hit('/jwks-rotate') - before, 1);
    } finally {
      jwksDoc = { keys: jwksDoc.keys.filter((k) => k.kid !== 'rs2') };
      p.dispose();
    }
  });

  test('a flood of unknown kids does not hammer the JWKS server', async () => {
    const p = new JwtProvider(remote('/jwks-flood', { cooldownMs: 60_000 }));
    assert.equal(failureOf(await settle(p.verify(await sign(rs, { iss: ISS, sub: '1' })))), 'ok');
    const before = hit('/jwks-flood');
    const tokens = await Promise.all(Array.from({ length: 40 }, (_, i) => sign(rs, { iss: ISS, sub: `${i}` }, { kid: `nope-${i}` })));
    const results = await Promise.all(tokens.map((t) => settle(p.verify(t))));
    for (const r of results) assert.equal(failureOf(r), 'JwksKidAlgMismatch');
    // One refetch is allowed right after the first fetch only if the cooldown passed; it has not.
    assert.equal(hit('/jwks-flood') - before, 0);
    // Later unknown kids are answered at once, without a Promise.
    assert.equal(isPromise(p.verify(await sign(rs, { iss: ISS, sub: 'x' }, { kid: 'other' }))), false);
    p.dispose();
  });

  test('a JWKS server that is down fails closed, and does not get retried per request', async () => {
    const p = new JwtProvider({ issuer: ISS, jwks: { type: 'remote', uri: `http://127.0.0.1:${deadPort}/jwks`, timeoutMs: 2000, cacheDurationMs: 300_000, failureBackoffMs: 60_000 } });
    const token = await sign(rs, { iss: ISS, sub: 'a' });
    const r = await settle(p.verify(token));
    assert.equal(failureOf(r), 'JwksFetchFail');
    assert.ok(!r.ok && r.detail && /request failed/.test(r.detail));
    const again = p.verify(await sign(rs, { iss: ISS, sub: 'b' }));
    assert.equal(isPromise(again), false, 'within the backoff: refused at once');
    assert.equal(failureOf(again as VerifyResult), 'JwksFetchFail');
    p.dispose();
  });

  test('a hanging JWKS server fails closed within the timeout and blocks no other issuer', async () => {
    const hanging = new JwtProvider(remote('/hang', { timeoutMs: 200 }));
    const other = new JwtProvider({ issuer: 'other', jwks: { type: 'inline', jwks: JSON.stringify({ keys: [rs.jwk] }) } });
    const t0 = Date.now();
    const pending = hanging.verify(await sign(rs, { iss: ISS, sub: 'a' }));
    assert.equal(isPromise(pending), true);
    const meanwhile = other.verify(await sign(rs, { iss: 'other', sub: 'b' }));
    assert.equal(isPromise(meanwhile), false, 'the other issuer does not wait');
    assert.equal(failureOf(meanwhile as VerifyResult), 'ok');
    const r = await settle(pending);
    const took = Date.now() - t0;
    assert.equal(failureOf(r), 'JwksFetchFail');
    assert.ok(!r.ok && r.detail?.includes('timed out'));
    assert.ok(took < 4000, `answered after ${took} ms`);
    hanging.dispose();
    other.dispose();
  });

  for (const [path, why] of [
    ['/garbage', 'body is not JSON'],
    ['/nokeys', 'no usable key'],
    ['/error', 'HTTP status 500'],
    ['/redirect', 'request failed'],
    ['/huge', 'larger than'],
  ] as const) {
    test(`${path} fails closed (${why})`, async () => {
      const p = new JwtProvider(remote(path));
      const r = await settle(p.verify(await sign(rs, { iss: ISS, sub: 'a' })));
      assert.equal(failureOf(r), 'JwksFetchFail');
      assert.ok(!r.ok && r.detail?.includes(why), `detail: ${!r.ok && r.detail}`);
      p.dispose();
    });
  }

  test('OpenID discovery finds the jwks_uri; a bad discovery document fails closed', async () => {
    const good = new JwtProvider({ issuer: `${base}/oidc`, jwks: { type: 'discovery', issuer: `${base}/oidc/`, timeoutMs: 2000, cacheDurationMs: 300_000 } });
    assert.equal(failureOf(await settle(good.verify(await sign(rs, { iss: `${base}/oidc`, sub: 'a' })))), 'ok');
    const bad = new JwtProvider({ issuer: `${base}/badoidc`, jwks: { type: 'discovery', issuer: `${base}/badoidc`, timeoutMs: 2000, cacheDurationMs: 300_000 } });
    const r = await settle(bad.verify(await sign(rs, { iss: `${base}/badoidc`, sub: 'a' })));
    assert.equal(failureOf(r), 'JwksFetchFail');
    assert.ok(!r.ok && r.detail?.includes('jwks_uri'));
    good.dispose();
    bad.dispose();
  });

  test('stale keys keep serving while refreshes fail, up to maxStaleMs; then fail closed', async () => {
    let now = Date.now();
    const p = new JwtProvider(remote('/jwks-toggle', { cacheDurationMs: 1000, maxStaleMs: 5000, failureBackoffMs: 0 }), { clock: () => now });
    toggleUp = true;
    assert.equal(failureOf(await settle(p.verify(await sign(rs, { iss: ISS, sub: '1' })))), 'ok');
    toggleUp = false;
    now += 3000; // stale but within maxStale: served at once, refreshed behind the request
    const stale = p.verify(await sign(rs, { iss: ISS, sub: '2' }));
    assert.equal(isPromise(stale), false);
    assert.equal(failureOf(stale as VerifyResult), 'ok');
    await p.source.refresh(now, 'expired'); // joins the background refresh
    assert.equal(p.source.lastError(), 'HTTP status 500');
    now += 10_000; // beyond maxStale
    assert.equal(failureOf(await settle(p.verify(await sign(rs, { iss: ISS, sub: '3' })))), 'JwksFetchFail');
    toggleUp = true;
    now += 1;
    assert.equal(failureOf(await settle(p.verify(await sign(rs, { iss: ISS, sub: '4' })))), 'ok', 'recovers once the server does');
    p.dispose();
  });
});

describe('selection by issuer and sharing', () => {
  test('the token iss picks the provider; an unknown iss is refused', async () => {
    const a = new JwtProvider({ issuer: 'A', jwks: { type: 'inline', jwks: JSON.stringify({ keys: [rs.jwk] }) } });
    const b = new JwtProvider({ issuer: 'B', jwks: { type: 'inline', jwks: JSON.stringify({ keys: [es.jwk] }) } });
    const r = await selectAndVerify(await sign(es, { iss: 'B', sub: 'x' }), [a, b], Date.now());
    assert.ok(r.ok && r.index === 1);
    const u = await selectAndVerify(await sign(es, { iss: 'C', sub: 'x' }), [a, b], Date.now());
    assert.ok(!u.ok && u.failure === 'JwtUnknownIssuer' && u.index === -1);
    a.dispose();
    b.dispose();
  });

  test('equal configurations share one provider and one JWKS source; the last release disposes them', async () => {
    jwtProviders.lingerMs = 0;
    jwksSources.lingerMs = 0;
    try {
      const cfg: JwtProviderConfig = { issuer: ISS, jwks: { type: 'remote', uri: `${base}/jwks`, timeoutMs: 2000, cacheDurationMs: 300_000 } };
      const l1 = acquireJwtProvider(cfg);
      const l2 = acquireJwtProvider({ jwks: cfg.jwks, issuer: ISS });
      assert.equal(l1.value, l2.value);
      const other = acquireJwtProvider({ ...cfg, audiences: ['x'] });
      assert.notEqual(other.value, l1.value);
      assert.equal(other.value.source, l1.value.source, 'one JWKS source per URI');
      assert.equal(jwksSources.size, 1);
      l1.release();
      l1.release();
      assert.equal(jwtProviders.size, 2);
      l2.release();
      other.release();
      assert.equal(jwtProviders.size, 0);
      assert.equal(jwksSources.size, 0);
    } finally {
      jwtProviders.lingerMs = 60_000;
      jwksSources.lingerMs = 60_000;
    }
  });
});

describe('token locations', () => {
  test('header prefix, query parameter and cookie extraction follow Envoy', () => {
    assert.equal(tokenFromHeader('Bearer abc.def.ghi', 'Bearer '), 'abc.def.ghi');
    assert.equal(tokenFromHeader('Basic xyz', 'Bearer '), undefined);
    assert.equal(tokenFromHeader('x Bearer   "abc.d.e', 'Bearer '), 'abc.d.e');
    assert.equal(tokenFromHeader('abc', ''), 'abc');
    assert.equal(queryParam('a=1&access_token=t.o.k&b', 'access_token'), 't.o.k');
    assert.equal(queryParam('access%5Ftoken=x%2Ey', 'access_token'), 'x.y');
    assert.equal(queryParam('a=1', 'access_token'), undefined);
    assert.equal(queryParam('%zz=1', 'access_token'), undefined, 'bad escapes do not throw');
    assert.equal(removeQueryParam('a=%20&access_token=t&b=2&access_token=u', 'access_token'), 'a=%20&b=2');
    assert.equal(cookieValue('a=1; session="t.o.k"; b=2', 'session'), 't.o.k');
    assert.equal(cookieValue('a=1', 'session'), undefined);
    assert.equal(removeCookie('a=1; session=t; b=2', 'session'), 'a=1; b=2');
    assert.equal(removeCookie('session=t', 'session'), '');
  });
});
