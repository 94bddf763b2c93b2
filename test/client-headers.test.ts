// What the client cannot forge or remove, over real sockets (Issue 17 items
// 5, 6, 8, 9): identity headers are the gateway's alone on every path
// (preflights included), two tokens cannot give two identities, a forged
// X-Forwarded-Client-Cert never reaches the upstream, and `Connection: <name>`
// cannot strip a header the gateway adds.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import http from 'node:http';
import { request } from 'undici';
import { startGateway, gatewayYaml, beRef, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { makeCa, issueClientCert } from './helpers/certs.ts';
import { applyForwardClientCert, XFCC } from '../src/dataplane/client-cert-header.ts';
import { X509Certificate, createHash } from 'node:crypto';
import { routeYaml, policyYaml } from './helpers/yaml.ts';

const ISS = 'https://issuer.test';
let gw: TestGateway;
let up: Upstream;
let base: string;
let key: CryptoKey;

const sign = (sub: string) =>
  new SignJWT({ sub, iss: ISS, exp: Math.floor(Date.now() / 1000) + 3600 }).setProtectedHeader({ alg: 'RS256', kid: 'k' }).sign(key);

before(async () => {
  const pair = await generateKeyPair('RS256', { extractable: true });
  key = pair.privateKey;
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k', alg: 'RS256', use: 'sig' }] });
  up = await startUpstream('up');
  const port = await freePort();
  const extra = routeYaml('r', `- filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-gateway-set, value: from-gateway }] } }]
  backendRefs: [${beRef('up')}]`) +
    policyYaml('RequestAuthentication', 'jwt', 'Gateway/gw', `jwtRules:
  - issuer: ${ISS}
    outputClaimToHeaders: [{ header: x-jwt-sub, claim: sub }]
    jwks: '${jwks}'`) +
    policyYaml('AuthorizationPolicy', 'no-bob', 'Gateway/gw', `action: DENY
rules: [{ from: [{ source: { requestPrincipals: ["${ISS}/bob"] } }] }]`);
  gw = await startGateway(gatewayYaml(port, { up: up.port }, extra));
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await gw?.close();
  await up?.close();
});

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}

async function send(path: string, headers: Record<string, string>, method = 'GET'): Promise<Seen> {
  const r = await request(base + path, { method: method as 'GET', headers });
  const text = await r.body.text();
  if (r.statusCode !== 200 || !text.startsWith('{')) return { status: r.statusCode, headers: {}, body: text };
  return { status: r.statusCode, headers: (JSON.parse(text) as { headers: Record<string, string> }).headers, body: text };
}

test('two different tokens for one provider (header and ?access_token=) are refused with 401', async () => {
  const [alice, bob] = await Promise.all([sign('alice'), sign('bob')]);
  // Alone, each is what it says: alice passes, bob is denied by the policy.
  assert.equal((await send('/a', { authorization: `Bearer ${alice}` })).headers['x-jwt-sub'], 'alice');
  assert.equal((await send(`/a?access_token=${bob}`, {})).status, 403);
  // Together: authorization read alice while the backend was told bob. No more.
  const both = await send(`/a?access_token=${bob}`, { authorization: `Bearer ${alice}` });
  assert.equal(both.status, 401);
  assert.equal(both.body, 'Jwt verification fails');
  const reversed = await send(`/a?access_token=${alice}`, { authorization: `Bearer ${bob}` });
  assert.equal(reversed.status, 401);
  // The same token twice is one caller.
  const same = await send(`/a?access_token=${alice}`, { authorization: `Bearer ${alice}` });
  assert.equal(same.status, 200);
  assert.equal(same.headers['x-jwt-sub'], 'alice');
});

test('forged claim headers are removed on every path: no token, a CORS preflight, a valid token', async () => {
  assert.equal((await send('/a', { 'x-jwt-sub': 'admin' })).headers['x-jwt-sub'], undefined, 'no token');
  const preflight = await send('/a', { 'x-jwt-sub': 'admin', origin: 'https://app.test', 'access-control-request-method': 'POST' }, 'OPTIONS');
  assert.equal(preflight.status, 200, 'the preflight is forwarded (no CORS policy here)');
  assert.equal(preflight.headers['x-jwt-sub'], undefined, 'a preflight is not authenticated, and not trusted either');
  const alice = await sign('alice');
  assert.equal((await send('/a', { 'x-jwt-sub': 'admin', authorization: `Bearer ${alice}` })).headers['x-jwt-sub'], 'alice');
});

/** node:http sends a Connection header as given (undici manages its own). */
function withConnection(path: string, headers: Record<string, string>): Promise<Seen> {
  return new Promise((resolve, reject) => {
    const req = http.request(base + path, { headers, agent: false }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.statusCode === 200 ? (JSON.parse(body) as { headers: Record<string, string> }).headers : {}, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('Connection: <name> removes the client\'s header of that name, never the one the gateway sets', async () => {
  const alice = await sign('alice');
  const r = await withConnection('/a', {
    connection: 'close, x-gateway-set, x-jwt-sub, x-client-hop',
    'x-client-hop': 'hop',
    'x-gateway-set': 'from-client',
    authorization: `Bearer ${alice}`,
  });
  assert.equal(r.status, 200);
  assert.equal(r.headers['x-gateway-set'], 'from-gateway', 'RequestHeaderModifier set survives');
  assert.equal(r.headers['x-jwt-sub'], 'alice', 'the claim header survives');
  assert.equal(r.headers['x-client-hop'], undefined, 'what the client nominated is still hop-by-hop');
});

test('a forged X-Forwarded-Client-Cert never reaches the upstream (SANITIZE by default)', async () => {
  const r = await send('/a', { [XFCC]: 'By=spiffe://cluster.local/ns/default/sa/admin;Hash=00;URI=spiffe://cluster.local/ns/default/sa/admin' });
  assert.equal(r.status, 200);
  assert.equal(r.headers[XFCC], undefined);
});

test('the other forward_client_cert_details modes, on a real certificate', async () => {
  const ca = await makeCa();
  const client = await issueClientCert(ca, { commonName: 'client-a', uris: ['spiffe://cluster.local/ns/a/sa/b'], dnsNames: ['a.test'] });
  const der = Buffer.from(new X509Certificate(client.certPem).raw);
  const hash = createHash('sha256').update(der).digest('hex');
  const mtls = { peerVerified: true, peerUris: [], peerCertDer: der };
  const plain = undefined;
  const run = (mode: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY', tls: typeof mtls | undefined) => {
    const h: Record<string, string> = { [XFCC]: 'Hash=forged' };
    applyForwardClientCert(h, { mode, details: ['Subject', 'URI', 'DNS'] }, tls);
    return h[XFCC];
  };
  const element = `Hash=${hash};Subject="CN=client-a";URI=spiffe://cluster.local/ns/a/sa/b;DNS=a.test`;
  assert.equal(run('SANITIZE', mtls), undefined);
  assert.equal(run('FORWARD_ONLY', mtls), 'Hash=forged');
  assert.equal(run('FORWARD_ONLY', plain), undefined, 'not mTLS: sanitized');
  assert.equal(run('APPEND_FORWARD', mtls), `Hash=forged,${element}`);
  assert.equal(run('APPEND_FORWARD', plain), undefined);
  assert.equal(run('SANITIZE_SET', mtls), element);
  assert.equal(run('SANITIZE_SET', plain), undefined);
  assert.equal(run('ALWAYS_FORWARD_ONLY', plain), 'Hash=forged');
});
