// The data plane over real sockets: routing, proxy headers, failures as HTTP
// says, limits, redirects, rewrites, mirrors, traffic split, replicas.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { startGateway, gatewayYaml, beRef, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { dechunk } from './helpers/sockets.ts';
import { routeYaml } from './helpers/yaml.ts';

let gw: TestGateway;
let v1: Upstream;
let v2: Upstream;
let mirrorUp: Upstream;
let port: number;
let base: string;

before(async () => {
  [v1, v2, mirrorUp] = await Promise.all([startUpstream('v1'), startUpstream('v2'), startUpstream('mirror')]);
  port = await freePort();
  const deadPort = await freePort();
  const routes = `${routeYaml('main', `- matches: [{ path: { type: PathPrefix, value: /api } }]
  backendRefs: [${beRef('v1')}]
- matches: [{ path: { type: PathPrefix, value: /slow } }]
  timeouts: { backendRequest: 200ms }
  backendRefs: [${beRef('v1')}]
- matches: [{ path: { type: PathPrefix, value: /dead } }]
  backendRefs: [${beRef('dead')}]
- matches: [{ path: { type: PathPrefix, value: /missing } }]
  backendRefs: [{ name: no-such-service, port: 80 }]
- matches: [{ path: { type: PathPrefix, value: /split } }]
  backendRefs: [${beRef('v1', 80)}, ${beRef('v2', 20)}]
- matches: [{ path: { type: PathPrefix, value: /svc } }]
  backendRefs: [{ name: replicas, port: 80 }]
- matches: [{ path: { type: PathPrefix, value: /unready } }]
  backendRefs: [{ name: unready, port: 80 }]
- matches: [{ path: { type: PathPrefix, value: /old } }]
  filters:
    - type: RequestRedirect
      requestRedirect: { scheme: https, hostname: new.example.com, path: { type: ReplacePrefixMatch, replacePrefixMatch: /new }, statusCode: 308 }
- matches: [{ path: { type: PathPrefix, value: /rewrite/me } }]
  filters:
    - type: URLRewrite
      urlRewrite: { hostname: internal.example, path: { type: ReplacePrefixMatch, replacePrefixMatch: / } }
    - type: RequestHeaderModifier
      requestHeaderModifier: { set: [{ name: x-set, value: s }], add: [{ name: x-add, value: a }], remove: [x-remove] }
    - type: ResponseHeaderModifier
      responseHeaderModifier: { set: [{ name: x-resp, value: r }], remove: [x-backend] }
  backendRefs: [${beRef('v1')}]
- matches: [{ path: { type: PathPrefix, value: /mirrored } }]
  filters:
    - type: RequestMirror
      requestMirror: { backendRef: ${beRef('mirror')} }
  backendRefs: [${beRef('v1')}]
- matches: [{ path: { type: Exact, value: /nobackend } }]`)}---
apiVersion: v1
kind: Service
metadata: { name: replicas, namespace: default }
spec: { ports: [{ name: http, port: 80, targetPort: 8080 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: replicas-1, namespace: default, labels: { kubernetes.io/service-name: replicas } }
addressType: IPv4
ports: [{ name: http, port: ${v1.port} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: true } }]
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: replicas-2, namespace: default, labels: { kubernetes.io/service-name: replicas } }
addressType: IPv4
ports: [{ name: http, port: ${v2.port} }]
endpoints: [{ addresses: [127.0.0.1] }]
---
apiVersion: v1
kind: Service
metadata: { name: unready, namespace: default }
spec: { ports: [{ port: 80 }] }
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: { name: unready-1, namespace: default, labels: { kubernetes.io/service-name: unready } }
addressType: IPv4
ports: [{ port: ${v1.port} }]
endpoints: [{ addresses: [127.0.0.1], conditions: { ready: false } }]
`;
  gw = await startGateway(gatewayYaml(port, { v1: v1.port, v2: v2.port, mirror: mirrorUp.port, dead: deadPort }, routes), {
    translate: { bindAddress: '127.0.0.1', limits: { maxHeaderBytes: 8192, maxUrlBytes: 2048, maxBodyBytes: 1 << 20 }, pathNormalization: 'BASE', rootNamespace: 'istio-system' },
  });
  base = `http://127.0.0.1:${port}`;
});

after(async () => {
  await gw?.close();
  await Promise.all([v1, v2, mirrorUp].map((u) => u?.close()));
});

async function get(path: string, headers: Record<string, string> = {}, method: 'GET' | 'POST' = 'GET', body?: string) {
  const r = await request(base + path, { method, headers, body });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, text, json: () => JSON.parse(text) };
}

test('proxies to the routed backend with the proxy headers major gateways set', async () => {
  const r = await get('/api/users?x=1', { host: 'shop.example.com', 'x-request-id': 'abc-123' });
  assert.equal(r.status, 200);
  const seen = r.json();
  assert.equal(seen.backend, 'v1');
  assert.equal(seen.url, '/api/users?x=1');
  assert.equal(seen.headers.host, 'shop.example.com', 'Host is preserved');
  assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.equal(seen.headers['x-forwarded-host'], 'shop.example.com');
  assert.equal(seen.headers['x-request-id'], 'abc-123', 'an incoming request id is kept');
});

test('generates a request id and appends to X-Forwarded-For', async () => {
  const seen = (await get('/api', { 'x-forwarded-for': '203.0.113.9' })).json();
  assert.match(seen.headers['x-request-id'], /^[0-9a-f-]{36}$/);
  assert.equal(seen.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
});

/** One request over a raw socket (for headers HTTP clients refuse to send). */
function raw(text: string): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let out = '';
    s.on('data', (d) => (out += d));
    s.on('close', () => resolve(out));
    s.on('error', () => resolve(out));
  });
}

test('strips hop-by-hop headers in both directions', async () => {
  const answer = await raw('GET /api HTTP/1.1\r\nhost: x\r\nconnection: close, x-private\r\nx-private: leak\r\nte: trailers\r\nproxy-connection: keep-alive\r\n\r\n');
  const seen = JSON.parse(dechunk(answer.slice(answer.indexOf('\r\n\r\n') + 4)));
  assert.equal(seen.backend, 'v1');
  assert.equal(seen.headers['x-private'], undefined, 'headers named by Connection are dropped');
  assert.equal(seen.headers['proxy-connection'], undefined);
  assert.equal(seen.headers.te, undefined);
  const r = await get('/api');
  assert.equal(seen.headers['x-private'], undefined, 'headers named by Connection are dropped');
  assert.equal(seen.headers['proxy-connection'], undefined);
  assert.equal(seen.headers.te, undefined);
  assert.equal(r.headers['x-upstream-hop'], undefined, 'response headers named by Connection are dropped');
  assert.notEqual(r.headers['keep-alive'], 'timeout=60', "the upstream's keep-alive is not passed on (the gateway's own may be)");
  assert.equal(r.headers['x-backend'], 'v1');
});

test('normalizes the path before routing and sends the normalized path upstream', async () => {
  const r = await get('/nothing/../api/%61/./b');
  assert.equal(r.status, 200);
  assert.equal(r.json().url, '/api/a/b');
});

test('answers 404 when no route matches', async () => {
  assert.equal((await get('/nope')).status, 404);
});

test('failures answer as HTTP says: refused 502, reset 502, timeout 504, no endpoint 503, bad ref 500', async () => {
  assert.equal((await get('/dead')).status, 502);
  assert.equal((await get('/api/reset')).status, 502);
  assert.equal((await get('/slow/delay/2000')).status, 504);
  assert.equal((await get('/unready')).status, 503);
  assert.equal((await get('/missing')).status, 500);
  assert.equal((await get('/nobackend')).status, 500);
  // and the gateway keeps serving
  assert.equal((await get('/api')).status, 200);
});

test('limits: 431 for large headers, 414 for long URLs, 413 for large bodies, 400 for bad paths', async () => {
  assert.equal((await get('/api', { 'x-big': 'a'.repeat(9000) })).status, 431);
  assert.equal((await get('/api/' + 'a'.repeat(3000))).status, 414);
  assert.equal((await get('/api', { 'content-type': 'text/plain' }, 'POST', 'x'.repeat((1 << 20) + 1))).status, 413);
  assert.equal((await get('/api/%zz')).status, 400);
  // a streamed (chunked) body has no Content-Length to check up front: it is counted as it flows
  const big = Readable.from((function* () { for (let i = 0; i < 20; i++) yield Buffer.alloc(64 * 1024, 'z'); })());
  const chunked = await request(base + '/api/upload', { method: 'POST', body: big });
  await chunked.body.dump();
  assert.equal(chunked.statusCode, 413);
  assert.equal((await get('/api')).status, 200);
});

test('streams request bodies to the upstream', async () => {
  const body = 'y'.repeat(300_000);
  const r = await get('/api/upload', { 'content-type': 'text/plain' }, 'POST', body);
  assert.equal(r.status, 200);
  assert.equal(r.json().body.length, body.length);
});

test('a malformed request gets 400 and the gateway keeps serving', async () => {
  const reply = await raw('GARBAGE\r\n\r\n');
  assert.match(reply, /^HTTP\/1\.1 400/);
  assert.equal((await get('/api')).status, 200);
});

test('two Host headers are refused with 400 (RFC 9112), never routed on the first', async () => {
  const answer = await raw('GET /api HTTP/1.1\r\nhost: a.example\r\nhost: b.example\r\nconnection: close\r\n\r\n');
  assert.match(answer, /^HTTP\/1\.1 400/);
});

test('RequestRedirect builds the Location from scheme, host, path and status', async () => {
  const r = await get('/old/page?q=1');
  assert.equal(r.status, 308);
  assert.equal(r.headers.location, 'https://new.example.com/new/page?q=1');
});

test('URLRewrite and header modifiers change what the upstream and the client see', async () => {
  const r = await get('/rewrite/me/please', { 'x-remove': 'gone', 'x-add': 'first' });
  assert.equal(r.status, 200);
  const seen = r.json();
  assert.equal(seen.url, '/please');
  assert.equal(seen.headers.host, 'internal.example');
  assert.equal(seen.headers['x-set'], 's');
  assert.equal(seen.headers['x-add'], 'first,a');
  assert.equal(seen.headers['x-remove'], undefined);
  assert.equal(r.headers['x-resp'], 'r');
  assert.equal(r.headers['x-backend'], undefined);
});

test('RequestMirror sends a copy (with its body) to the mirror backend', async () => {
  const before = mirrorUp.seen.length;
  const r = await get('/mirrored/x', { 'content-type': 'text/plain' }, 'POST', 'mirror me');
  assert.equal(r.json().body, 'mirror me');
  for (let i = 0; i < 100 && mirrorUp.seen.length === before; i++) await new Promise((res) => setImmediate(res));
  await waitFor(() => mirrorUp.seen.length > before);
  const copy = mirrorUp.seen.at(-1)!;
  assert.equal(copy.url, '/mirrored/x');
  assert.equal(copy.body, 'mirror me');
});

test('traffic split 80/20 holds within tolerance over 1000 requests', async () => {
  const counts: Record<string, number> = { v1: 0, v2: 0 };
  await Promise.all(Array.from({ length: 1000 }, async () => {
    const r = await request(base + '/split');
    counts[r.headers['x-backend'] as string]++;
    await r.body.dump();
  }));
  assert.equal(counts.v1 + counts.v2, 1000);
  assert.ok(counts.v2 > 150 && counts.v2 < 250, `v2 got ${counts.v2} of 1000`);
});

test('a Service resolves through EndpointSlices, round-robin over ready endpoints', async () => {
  const got = new Set<string>();
  for (let i = 0; i < 4; i++) got.add((await get('/svc')).headers['x-backend'] as string);
  assert.deepEqual([...got].sort(), ['v1', 'v2']);
});

test('/config shows the IR and each resource status; /metrics counts by route and status', async () => {
  const cfg = await (await request(gw.adminUrl + '/config')).body.json() as { version: string; status: { object: string; accepted: boolean }[] };
  assert.match(cfg.version, /^[0-9a-f]{16}$/);
  assert.ok(cfg.status.some((s) => s.object === 'HTTPRoute/default/main' && s.accepted));
  const short = (await (await request(gw.adminUrl + '/config/version')).body.json()) as { version: string; lastReload: { ok: boolean } };
  assert.equal(short.version, cfg.version);
  assert.equal(short.lastReload.ok, true);
  const metrics = await (await request(gw.adminUrl + '/metrics')).body.text();
  assert.match(metrics, /portcullis_requests_total\{route="default\/main\/0",status="200"\} \d+/);
  assert.match(metrics, /portcullis_upstream_errors_total\{backend="Backend\/default\/dead",kind="connect"\} [1-9]/);
});

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}
