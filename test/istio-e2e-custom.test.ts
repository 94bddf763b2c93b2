// Istio task "External Authorization" over real sockets: examples/istio/authz-custom.yaml
// with the sample authorizer of examples/istio/ext-authz-server.ts (a real gRPC
// and a real HTTP ext_authz server), first with the task's gRPC provider, then
// with its HTTP provider, then with authorizers that are down or never answer.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { exampleYaml, send } from './helpers/istio-e2e.ts';
import { DENY_BODY, startExtAuthzSample, type ExtAuthzSample } from '../examples/istio/ext-authz-server.ts';

let echo: EchoServer;
let authz: ExtAuthzSample;
let gw: TestGateway;
let port = 0;
let blackHole: net.Server;
const held = new Set<net.Socket>();

const example = (extra: Record<string, string> = {}) =>
  exampleYaml('authz-custom.yaml', { 8080: port, 9081: echo.port, 8000: authz.httpPort, 9000: authz.grpcPort }, extra);

async function load(yaml: string): Promise<void> {
  await gw.write(yaml);
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

before(async () => {
  echo = await startEcho('v1');
  authz = await startExtAuthzSample({ httpPort: 0, grpcPort: 0 });
  // Accepts connections and never answers: an authorizer that hangs.
  blackHole = net.createServer((s) => {
    held.add(s);
    s.on('close', () => held.delete(s));
    s.on('error', () => {});
  });
  await new Promise<void>((r) => blackHole.listen(0, '127.0.0.1', r));
  port = await freePort();
  gw = await startGateway(example());
});

after(async () => {
  await gw?.close();
  await authz?.close();
  await echo?.close();
  for (const s of held) s.destroy();
  await new Promise<void>((r) => (blackHole ? blackHole.close(() => r()) : r()));
});

const checksSince = (n: number) => authz.checks.slice(n);

describe('the gRPC provider (sample-ext-authz-grpc), as written', () => {
  test('x-ext-authz: deny → 403 with the authorizer\'s body and headers, relayed to the client', async () => {
    const n = authz.checks.length;
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'deny' } });
    assert.equal(r.status, 403);
    assert.equal(r.body, DENY_BODY);
    assert.equal(r.headers['x-ext-authz-check-result'], 'denied');
    assert.deepEqual(checksSince(n).map((c) => [c.via, c.allowed, c.path]), [['grpc', false, '/headers']]);
  });

  test('x-ext-authz: allow → 200, and the authorizer\'s header reaches httpbin (a forged one is replaced)', async () => {
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'allow', 'x-ext-authz-check-result': 'forged' } });
    assert.equal(r.status, 200, r.body);
    const seen = r.json();
    assert.equal(seen.headers['x-ext-authz'], 'allow');
    assert.equal(seen.headers['x-ext-authz-check-result'], 'allowed');
  });

  test('the gRPC check carries every request header (Envoy sends them all over gRPC)', async () => {
    const n = authz.checks.length;
    await send(port, '/headers?q=1', { headers: { 'x-ext-authz': 'allow', 'x-custom': 'c' } });
    const [c] = checksSince(n);
    assert.equal(c.headers['x-custom'], 'c');
    assert.equal(c.headers[':method'], 'GET');
    assert.equal(c.path, '/headers?q=1');
  });

  test('other paths do not trigger the authorizer: GET /ip is 200 without a check', async () => {
    const n = authz.checks.length;
    const r = await send(port, '/ip', { headers: { 'x-ext-authz': 'deny' } });
    assert.equal(r.status, 200);
    assert.equal(checksSince(n).length, 0);
  });

  test('a path that only looks different is still /headers: the check is not bypassed', async () => {
    for (const p of ['/./headers', '/ip/../headers', '/%68eaders', '/headers?x-ext-authz=allow']) {
      const r = await send(port, p, { headers: { 'x-ext-authz': 'deny' } });
      assert.equal(r.status, 403, p);
    }
  });
});

describe('the HTTP provider (sample-ext-authz-http)', () => {
  before(() => load(example({ 'name: sample-ext-authz-grpc': 'name: sample-ext-authz-http' })));

  test('deny → 403 with the body; allow → 200', async () => {
    const n = authz.checks.length;
    const d = await send(port, '/headers', { headers: { 'x-ext-authz': 'deny' } });
    assert.equal(d.status, 403);
    assert.equal(d.body, DENY_BODY);
    assert.equal(d.headers['x-ext-authz-check-result'], 'denied', 'no headersToDownstreamOnDeny: every authorizer header goes back');
    const a = await send(port, '/headers', { headers: { 'x-ext-authz': 'allow' } });
    assert.equal(a.status, 200);
    assert.deepEqual(checksSince(n).map((c) => [c.via, c.allowed]), [['http', false], ['http', true]]);
  });

  test('the HTTP check gets only the headers the provider names (plus Host, Authorization…), never cookies or others', async () => {
    const n = authz.checks.length;
    await send(port, '/headers', { headers: { 'x-ext-authz': 'allow', cookie: 'session=s3cr3t', 'x-other': 'o' } });
    const [c] = checksSince(n);
    assert.equal(c.headers['x-ext-authz'], 'allow');
    assert.equal(c.headers.cookie, undefined);
    assert.equal(c.headers['x-other'], undefined);
    assert.equal(c.path, '/headers');
  });

  test('without headersToUpstreamOnAllow the authorizer\'s headers stay out of the upstream request', async () => {
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'allow' } });
    assert.equal(r.status, 200);
    assert.equal(r.json().headers['x-ext-authz-check-result'], undefined);
  });
});

describe('the HTTP provider with the header lists of the task\'s oauth2-proxy example', () => {
  before(() =>
    load(
      example({ 'name: sample-ext-authz-grpc': 'name: sample-ext-authz-http' }).replace(
        'includeRequestHeadersInCheck: ["x-ext-authz"]',
        'includeRequestHeadersInCheck: ["x-ext-authz"]\n        headersToUpstreamOnAllow: ["x-ext-authz-check-result"]\n        headersToDownstreamOnDeny: ["content-type"]',
      ),
    ),
  );

  test('allow: headersToUpstreamOnAllow carries the authorizer\'s header to httpbin, replacing a forged one', async () => {
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'allow', 'x-ext-authz-check-result': 'forged' } });
    assert.equal(r.status, 200);
    assert.equal(r.json().headers['x-ext-authz-check-result'], 'allowed');
  });

  test('deny: only headersToDownstreamOnDeny reach the client', async () => {
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'deny' } });
    assert.equal(r.status, 403);
    assert.equal(r.body, DENY_BODY);
    assert.equal(r.headers['x-ext-authz-check-result'], undefined);
    assert.match(String(r.headers['content-type']), /^text\/plain/);
  });
});

describe('an authorizer that fails', () => {
  test('down (connection refused): 403, promptly; requests it is not asked about still pass', async () => {
    const dead = await freePort();
    const yaml = example().replace(`- name: grpc\n  port: ${authz.grpcPort}\n`, `- name: grpc\n  port: ${dead}\n`);
    assert.ok(yaml.includes(`port: ${dead}`));
    await load(yaml);
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'allow' } });
    assert.equal(r.status, 403);
    assert.doesNotMatch(r.body, /ECONNREFUSED|127\.0\.0\.1|Error/, 'no internals in the answer');
    assert.equal((await send(port, '/ip')).status, 200);
  });

  test('hanging (never answers): the provider timeout turns it into a 403, no request hangs', async () => {
    const hole = (blackHole.address() as net.AddressInfo).port;
    const yaml = example({ 'name: sample-ext-authz-grpc': 'name: sample-ext-authz-http' })
      .replace(`port: "${authz.httpPort}"\n`, `port: "${authz.httpPort}"\n        timeout: 0.3s\n`)
      .replace(`- name: http\n  port: ${authz.httpPort}\n`, `- name: http\n  port: ${hole}\n`);
    assert.match(yaml, /timeout: 0\.3s/);
    assert.ok(yaml.includes(`port: ${hole}`));
    await load(yaml);
    const t0 = Date.now();
    const r = await send(port, '/headers', { headers: { 'x-ext-authz': 'allow' } });
    assert.equal(r.status, 403);
    const took = Date.now() - t0;
    assert.ok(took >= 250 && took < 5_000, `answered after ${took} ms (timeout 300 ms)`);
  });

  test('failOpen, and the client leaves during the check: httpbin never sees the request, the access counts a 499', async () => {
    const hole = (blackHole.address() as net.AddressInfo).port;
    const yaml = example({ 'name: sample-ext-authz-grpc': 'name: sample-ext-authz-http' })
      .replace(`port: "${authz.httpPort}"\n`, `port: "${authz.httpPort}"\n        timeout: 0.3s\n        failOpen: true\n`)
      .replace(`- name: http\n  port: ${authz.httpPort}\n`, `- name: http\n  port: ${hole}\n`);
    assert.match(yaml, /failOpen: true/);
    await load(yaml);
    const count499 = async (): Promise<number> => {
      const text = await (await fetch(gw.adminUrl + '/metrics')).text();
      return [...text.matchAll(/portcullis_requests_total\{route="[^"]*",status="499"\} (\d+)/g)].reduce((n, m) => n + Number(m[1]), 0);
    };
    const before499 = await count499();
    let reachedHttpbin = 0;
    const seen = (req: { url?: string }): void => { if (req.url === '/headers') reachedHttpbin++; };
    echo.server.on('request', seen);
    try {
      const checked = new Promise<void>((r) => blackHole.once('connection', () => r()));
      const client = net.connect(port, '127.0.0.1');
      client.on('error', () => {});
      client.write('GET /headers HTTP/1.1\r\nHost: x\r\nx-ext-authz: allow\r\n\r\n');
      await checked; // the check is under way
      client.destroy();
      // The check times out (fail open) after 300 ms; the gateway must then see the client is gone.
      const end = Date.now() + 5_000;
      while ((await count499()) === before499 && Date.now() < end) await new Promise((r) => setTimeout(r, 25));
      assert.equal(await count499(), before499 + 1);
      assert.equal(reachedHttpbin, 0);
    } finally {
      echo.server.off('request', seen);
    }
  });
});
