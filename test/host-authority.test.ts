// Issue 17 item 1: one normalized authority. A bracketed Host used to route to
// admin.example.com (the router stripped brackets from anything) while the
// AuthorizationPolicy hosts condition compared the raw header, so a DENY on
// admin.example.com was skipped. Over real sockets, HTTP/1.1 and HTTP/2.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { startGateway, beRef, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayDoc, httpListener, httpsListener, tlsSecretYaml, backendYaml, routeYaml, policyYaml } from './helpers/yaml.ts';
import { makeCa, issueServerCert, type RootCa } from './helpers/certs.ts';
import { send } from './helpers/istio-e2e.ts';
import { normalizeAuthority, requestAuthority } from '../src/dataplane/authority.ts';

let gw: TestGateway;
let admin: Upstream;
let pub: Upstream;
let port: number;
let tlsPort: number;
let ca: RootCa;

before(async () => {
  ca = await makeCa();
  admin = await startUpstream('admin');
  pub = await startUpstream('public');
  port = await freePort();
  tlsPort = await freePort();
  const cert = await issueServerCert(ca, { hostnames: ['admin.example.com', 'www.example.com'] });
  gw = await startGateway(gatewayDoc([httpListener(port), httpsListener('https', tlsPort)]) + tlsSecretYaml('cert', cert) +
    backendYaml('admin', [admin.port]) + backendYaml('public', [pub.port]) +
    routeYaml('admin', `- { backendRefs: [${beRef('admin')}] }`, { hostnames: ['admin.example.com'] }) +
    routeYaml('public', `- { backendRefs: [${beRef('public')}] }`) +
    policyYaml('AuthorizationPolicy', 'no-admin-vhost', 'Gateway/gw', `action: DENY
rules: [{ to: [{ operation: { hosts: ["admin.example.com", "admin.example.com:*"] } }] }]`));
});

after(async () => {
  await gw?.close();
  await admin?.close();
  await pub?.close();
});

async function h1(host: string): Promise<{ status: number; backend?: string }> {
  const r = await send(port, '/x', { headers: { host } });
  return { status: r.status, backend: r.status === 200 ? r.json().backend : undefined };
}

test('HTTP/1.1: the admin vhost is denied however its Host is spelled; brackets around a name are 400', async () => {
  const adminSeen = admin.seen.length;
  assert.equal((await h1('admin.example.com')).status, 403);
  assert.equal((await h1('[admin.example.com]')).status, 400, 'brackets are for IPv6 literals only');
  assert.equal((await h1('[admin.example.com]:80')).status, 400);
  assert.equal((await h1('ADMIN.Example.COM')).status, 403, 'case-insensitive, routed and denied alike');
  assert.equal((await h1('admin.example.com.')).status, 403, 'a trailing dot names the same host');
  assert.equal((await h1(`admin.example.com:${port}`)).status, 403);
  assert.equal((await h1('admin.example.com:')).status, 403, 'an empty port is no port');
  assert.equal((await h1('admin.example.com:0080')).status, 403);
  assert.equal((await h1('admin.example.com:99999')).status, 400);
  assert.equal((await h1('user@admin.example.com')).status, 400);
  assert.equal((await h1('admin.example.com%00')).status, 400);
  assert.equal(admin.seen.length, adminSeen, 'the protected backend never answered');
  assert.deepEqual(await h1('www.example.com'), { status: 200, backend: 'public' });
  assert.deepEqual(await h1('[::1]'), { status: 200, backend: 'public' }, 'an IPv6 literal is a valid authority');
  assert.deepEqual(await h1(`[::1]:${port}`), { status: 200, backend: 'public' });
  assert.equal((await h1('[::1')).status, 400);
  assert.equal((await h1('[not:an:ip::x]')).status, 400);
});

function h2(headers: http2.OutgoingHttpHeaders): Promise<{ status: number; backend?: string }> {
  const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { ca: ca.certPem, servername: 'www.example.com' });
  return new Promise<{ status: number; backend?: string }>((resolve, reject) => {
    session.on('error', reject);
    const req = session.request({ ':path': '/x', ...headers });
    let status = 0;
    let body = '';
    req.on('response', (h) => (status = Number(h[':status'])));
    req.on('data', (d) => (body += d));
    req.on('end', () => resolve({ status, backend: status === 200 ? JSON.parse(body).backend : undefined }));
    req.on('error', reject);
    req.end();
  }).finally(() => session.close());
}

test('HTTP/2: :authority is normalized the same way; a Host that differs from :authority is 400', async () => {
  const adminSeen = admin.seen.length;
  assert.equal((await h2({ ':authority': 'admin.example.com' })).status, 403);
  assert.equal((await h2({ ':authority': '[admin.example.com]' })).status, 400);
  assert.equal((await h2({ ':authority': `Admin.Example.com:${tlsPort}` })).status, 403);
  assert.equal((await h2({ ':authority': 'www.example.com', host: 'admin.example.com' })).status, 400, 'RFC 9113 §8.3.1');
  assert.equal((await h2({ ':authority': 'admin.example.com', host: 'www.example.com' })).status, 400);
  assert.equal(admin.seen.length, adminSeen, 'the protected backend never answered');
  assert.deepEqual(await h2({ ':authority': 'www.example.com' }), { status: 200, backend: 'public' });
  assert.deepEqual(await h2({ ':authority': 'www.example.com', host: 'WWW.example.com' }), { status: 200, backend: 'public' }, 'the same authority twice is fine');
});

test('normalizeAuthority: one form for each authority, null for what is not one', () => {
  assert.equal(normalizeAuthority('Api.Example.COM'), 'api.example.com');
  assert.equal(normalizeAuthority('api.example.com.:443'), 'api.example.com:443');
  assert.equal(normalizeAuthority('api.example.com:00443'), 'api.example.com:443');
  assert.equal(normalizeAuthority('api.example.com:'), 'api.example.com');
  assert.equal(normalizeAuthority('[::FFFF:10.0.0.1]:8080'), '[::ffff:10.0.0.1]:8080');
  assert.equal(normalizeAuthority('10.0.0.1:80'), '10.0.0.1:80');
  for (const bad of ['[api.example.com]', '[::1]x', '[fe80::1%25eth0]', 'a b', 'a,b', 'a/b', 'a\\b', ':80', '.', 'a..', 'a:1:2', 'a:-1', 'a:65536', 'ünï.example']) {
    assert.equal(normalizeAuthority(bad), null, bad);
  }
  assert.equal(requestAuthority({}), '', 'no authority at all (HTTP/1.0)');
  assert.equal(requestAuthority({ host: 'a.example', ':authority': 'A.example' }), 'a.example');
  assert.equal(requestAuthority({ host: 'a.example', ':authority': 'b.example' }), null);
});
