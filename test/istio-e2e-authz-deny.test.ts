// Istio task "Explicit Deny" over real sockets: examples/istio/authz-deny.yaml as
// written, served with the quickstart it is written for (its httpbin workload, the
// demo echo backend; ports moved), and the answers the task page gives (and
// examples/istio/README.md repeats).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { exampleYaml, quickstartYaml, send } from './helpers/istio-e2e.ts';

let echo: EchoServer;
let gw: TestGateway;
let port = 0;

before(async () => {
  echo = await startEcho('v1');
  port = await freePort();
  gw = await startGateway(quickstartYaml({ 8080: port, 9081: echo.port }) + '\n---\n' + exampleYaml('authz-deny.yaml', {}));
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

const RBAC = 'RBAC: access denied';

test('GET /ip with x-token: guest is denied by deny-method-get (403 RBAC: access denied)', async () => {
  const r = await send(port, '/ip', { headers: { 'x-token': 'guest' } });
  assert.equal(r.status, 403);
  assert.equal(r.body, RBAC);
  assert.match(String(r.headers['content-type']), /^text\/plain/);
});

test('GET /ip with x-token: admin is allowed by allow-path-ip and reaches httpbin', async () => {
  const r = await send(port, '/ip', { headers: { 'x-token': 'admin' } });
  assert.equal(r.status, 200);
  const seen = r.json();
  assert.equal(seen.backend, 'v1');
  assert.equal(seen.url, '/ip');
  assert.equal(seen.headers['x-token'], 'admin');
});

test('GET /get with x-token: admin is denied: no ALLOW policy matches /get', async () => {
  const r = await send(port, '/get', { headers: { 'x-token': 'admin' } });
  assert.equal(r.status, 403);
  assert.equal(r.body, RBAC);
});

test('only the httpbin workload is concerned: the quickstart\'s other routes answer as before', async () => {
  const r = await send(port, '/echo/hello');
  assert.equal(r.status, 200);
  assert.equal(r.json().url, '/echo/hello');
});

test('only GET is denied: POST /ip is allowed without a token, POST /post is outside allow-path-ip', async () => {
  assert.equal((await send(port, '/ip', { method: 'POST', body: 'x' })).status, 200);
  assert.equal((await send(port, '/post', { method: 'POST', body: 'x' })).status, 403);
});

test('GET without x-token is denied: notValues matches an absent header', async () => {
  const r = await send(port, '/ip');
  assert.equal(r.status, 403);
  assert.equal(r.body, RBAC);
});

test('forged or near-miss tokens are denied: case, prefix, suffix, a second x-token header', async () => {
  // (Leading/trailing blanks are not in the value: HTTP strips them, in Envoy as here.)
  for (const v of ['Admin', 'ADMIN', 'admi', 'adminx', 'xadmin', 'admin,admin']) {
    assert.equal((await send(port, '/ip', { headers: { 'x-token': v } })).status, 403, JSON.stringify(v));
  }
  // Two x-token headers reach the policy as one "admin, guest" value (as Envoy joins them).
  const two = await rawRequest(port, 'GET /ip HTTP/1.1\r\nhost: x\r\nx-token: admin\r\nx-token: guest\r\nconnection: close\r\n\r\n');
  assert.match(two, /^HTTP\/1\.1 403 /);
});

test('a lowercase method is not a way around "GET": the request is refused, never proxied', async () => {
  const before = await send(port, '/ip', { headers: { 'x-token': 'admin' } });
  assert.equal(before.status, 200);
  const r = await rawRequest(port, 'get /ip HTTP/1.1\r\nhost: x\r\nx-token: guest\r\nconnection: close\r\n\r\n');
  assert.match(r, /^HTTP\/1\.1 4\d\d /);
  assert.doesNotMatch(r, /"backend"/);
});

/** Bytes on a socket, for requests a well-behaved client would not send. */
function rawRequest(p: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(p, '127.0.0.1', () => s.end(text));
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
}
