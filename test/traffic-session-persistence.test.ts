// HTTPRoute rule sessionPersistence (Gateway API) over real sockets: the
// first answer names the replica (a cookie, or a header), requests that bring
// it back stay on that replica — across a traffic split too — until the
// session times out or the replica leaves; a forged token is just a new
// session.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { startReplica, type Replica } from './helpers/replicas.ts';
import { gatewayDoc, httpListener, serviceYaml, routeYaml } from './helpers/yaml.ts';
import { until } from './helpers/management.ts';

let gw: TestGateway;
let port: number;
let reps: Replica[];
let other: Replica[];
let config: (replicas: Replica[]) => string;

const rule = (path: string, sp: string, refs = '[{ name: backend, port: 3000 }]') => `- matches: [{ path: { type: PathPrefix, value: ${path} } }]
  backendRefs: ${refs}
  sessionPersistence:
${sp.replace(/^/gm, '    ')}
`;

before(async () => {
  reps = await Promise.all(['a', 'b', 'c'].map((n) => startReplica(n)));
  other = await Promise.all(['x', 'y'].map((n) => startReplica(n)));
  port = await freePort();
  config = (replicas) => gatewayDoc([httpListener(port)], { name: 'eg', className: 'eg' }) + serviceYaml('backend', replicas) + serviceYaml('other', other) +
    routeYaml('sessions', rule('/cookie', 'sessionName: Session-A\ntype: Cookie\nabsoluteTimeout: 10s\ncookieConfig:\n  lifetimeType: Permanent') +
    rule('/header', 'sessionName: Session-B\ntype: Header\nidleTimeout: 10s') +
    rule('/short', 'sessionName: Short\nabsoluteTimeout: 300ms') +
    rule('/split', 'sessionName: Split', '[{ name: backend, port: 3000, weight: 1 }, { name: other, port: 3000, weight: 1 }]'), { parent: 'eg' });
  gw = await startGateway(config(reps));
});

after(async () => {
  await gw?.close();
  await Promise.all([...(reps ?? []), ...(other ?? [])].map((r) => r.close()));
});

async function get(path: string, headers: Record<string, string> = {}) {
  const r = await request(`http://127.0.0.1:${port}${path}`, { headers });
  return { status: r.statusCode, headers: r.headers, body: await r.body.text() };
}

function cookieOf(setCookie: unknown): string {
  return String(setCookie).split(';')[0];
}

test('Cookie: the first answer sets it (Path of the match, Max-Age for Permanent), then every request stays on that replica', async () => {
  const first = await get('/cookie');
  assert.match(String(first.headers['set-cookie']), /^Session-A=[A-Za-z0-9_-]+; Path=\/cookie; HttpOnly; Max-Age=10$/);
  const cookie = cookieOf(first.headers['set-cookie']);
  for (let i = 0; i < 9; i++) {
    const r = await get('/cookie', { cookie: `theme=dark; ${cookie}` });
    assert.equal(r.body, first.body);
    assert.equal(r.headers['set-cookie'], undefined, 'no idle timeout: the cookie is not set again');
  }
  // Without the cookie, requests spread (and each gets a cookie of its own).
  const owners = new Set<string>();
  for (let i = 0; i < 6; i++) owners.add((await get('/cookie')).body);
  assert.equal(owners.size, 3);
});

test('Header: the answer names the replica in the session header, renewed on every answer (idleTimeout)', async () => {
  const first = await get('/header');
  const token = String(first.headers['session-b']);
  assert.ok(token.length > 0);
  for (let i = 0; i < 6; i++) {
    const r = await get('/header', { 'Session-B': token });
    assert.equal(r.body, first.body);
    assert.ok(r.headers['session-b'], 'renewed');
  }
});

test('a forged or garbage token is a new session, never an error', async () => {
  for (const bad of ['garbage', '!!!', Buffer.from('10.0.0.1:80;0;0').toString('base64url'), '']) {
    const r = await get('/cookie', { cookie: `Session-A=${bad}` });
    assert.equal(r.status, 200);
    assert.match(String(r.headers['set-cookie']), /^Session-A=/);
  }
});

test('absoluteTimeout: once over, the session starts again', async () => {
  const first = await get('/short');
  const cookie = cookieOf(first.headers['set-cookie']);
  assert.equal((await get('/short', { cookie })).headers['set-cookie'], undefined, 'the session holds');
  await until('the session expires', async () => (await get('/short', { cookie })).headers['set-cookie'] !== undefined, 3000);
});

test('a traffic split keeps the session on the backend of its replica', async () => {
  for (let round = 0; round < 4; round++) {
    const first = await get('/split');
    const cookie = cookieOf(first.headers['set-cookie']);
    for (let i = 0; i < 8; i++) assert.equal((await get('/split', { cookie })).body, first.body);
  }
});

test('the replica leaves: the next request gets another one and a new cookie', async () => {
  const first = await get('/cookie');
  const cookie = cookieOf(first.headers['set-cookie']);
  await gw.write(config(reps.filter((r) => r.name !== first.body)));
  try {
    assert.equal(await gw.instance.reload(), true);
    const r = await get('/cookie', { cookie });
    assert.equal(r.status, 200);
    assert.notEqual(r.body, first.body);
    assert.match(String(r.headers['set-cookie']), /^Session-A=/);
  } finally {
    await gw.write(config(reps));
    await gw.instance.reload();
  }
});
