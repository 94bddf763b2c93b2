// ClientTrafficPolicy path (disableMergeSlashes, escapedSlashesAction),
// healthCheck.path, http1.http10.useDefaultHost and tcpKeepalive over real
// sockets (keepalive read back from the kernel's timer): raw requests to a gateway with
// two listeners ("http" targeted by sectionName, "other" not), two real
// upstreams (/admin → admin, the rest → backend), reloaded per case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http from 'node:http';
import http2 from 'node:http2';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { dechunk, rawExchange, tcpTimer, type TcpTimer } from './helpers/sockets.ts';
import { until } from './helpers/management.ts';
import { egRouteYaml, statusOf } from './helpers/eg-quickstart.ts';
import { gatewayDoc, httpListener, routeYaml, serviceYaml } from './helpers/yaml.ts';

let backend: Upstream;
let admin: Upstream;
let gw: TestGateway;
let port = 0;
let other = 0;

function config(extra = ''): string {
  return gatewayDoc([httpListener(port, 'http'), httpListener(other, 'other')], { name: 'eg', className: 'eg' }) +
    serviceYaml('backend', [{ port: backend.port }]) + serviceYaml('admin', [{ port: admin.port }]) +
    egRouteYaml('backend', '/') + egRouteYaml('admin', '/admin', 'admin') + extra;
}

/** A ClientTrafficPolicy on listener "http" of Gateway eg (or the whole Gateway), `body` its other spec lines. */
function ctp(body: string, name = 'extra', section: string | null = 'http'): string {
  const s = section === null ? '' : `, sectionName: ${section}`;
  return `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: eg${s} }]
${body}
`;
}

async function serve(extra: string): Promise<void> {
  await gw.write(config(extra));
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

interface RawAnswer {
  status: number;
  head: string;
  body: string;
  /** The upstream's echo (which backend, what URL it saw), when the gateway proxied. */
  echo?: { backend: string; url: string; headers: Record<string, string>; rawNames?: string[] };
}

/** One raw request (`Connection: close` is added); everything the gateway sent until it closed. */
async function raw(p: number, requestLine: string, headers = 'Host: www.example.com\r\n'): Promise<RawAnswer> {
  const text = await rawExchange(p, [`${requestLine}\r\n${headers}Connection: close\r\n\r\n`]);
  const at = text.indexOf('\r\n\r\n');
  const head = text.slice(0, at);
  let body = text.slice(at + 4);
  if (/\r\ntransfer-encoding: chunked/i.test(head)) body = dechunk(body);
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  let echo;
  if (/\r\nx-backend: /i.test(head)) echo = JSON.parse(body);
  return { status, head, body, echo };
}

type H2Answer = http2.IncomingHttpHeaders & http2.IncomingHttpStatusHeader;

/** One request over clear-text HTTP/2 (prior knowledge) to www.example.com: its headers and trailers in one object. */
async function h2c(p: number, headers: http2.OutgoingHttpHeaders): Promise<H2Answer> {
  const client = http2.connect(`http://127.0.0.1:${p}`);
  try {
    return await new Promise<H2Answer>((resolve, reject) => {
      const req = client.request({ ':authority': 'www.example.com', ...headers });
      let all: H2Answer = {};
      req.on('response', (h) => (all = { ...all, ...h }));
      req.on('trailers', (t) => (all = { ...all, ...t }));
      req.on('end', () => resolve(all));
      req.on('error', reject);
      req.resume();
      req.end();
    });
  } finally {
    client.close();
  }
}

/** The trailers an HTTP/1.1 client gets for GET `path` (Node's parser reads them after the last chunk). */
function http1Trailers(p: number, path: string): Promise<NodeJS.Dict<string>> {
  return new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: p, path, headers: { host: 'www.example.com' }, agent: false }, (res) => {
      assert.equal(res.statusCode, 200);
      res.resume();
      res.on('end', () => resolve(res.trailers));
    }).on('error', reject);
  });
}

function headerOf(a: RawAnswer, name: string): string | undefined {
  return new RegExp(`\\r\\n${name}: ([^\\r]*)`, 'i').exec(a.head)?.[1];
}

before(async () => {
  [backend, admin] = [await startUpstream('backend'), await startUpstream('admin')];
  [port, other] = [await freePort(), await freePort()];
  gw = await startGateway(config());
});

after(async () => {
  await gw?.close();
  await backend?.close();
  await admin?.close();
});

describe('path: without a policy the gateway keeps its own normalization (BASE)', () => {
  test('%2F stays escaped for routing and upstream alike, slashes are not merged, dot segments are removed', async () => {
    await serve('');
    const escaped = await raw(port, 'GET /admin%2Fusers HTTP/1.1');
    assert.equal(escaped.status, 200);
    assert.deepEqual([escaped.echo?.backend, escaped.echo?.url], ['backend', '/admin%2Fusers'], 'one segment "admin%2Fusers": not the /admin route');
    const doubled = await raw(port, 'GET //admin//users HTTP/1.1');
    assert.deepEqual([doubled.echo?.backend, doubled.echo?.url], ['backend', '//admin//users']);
    const dots = await raw(port, 'GET /public/../admin/users HTTP/1.1');
    assert.deepEqual([dots.echo?.backend, dots.echo?.url], ['admin', '/admin/users']);
  });
});

describe('path.escapedSlashesAction (Envoy Gateway: UnescapeAndRedirect unless said; slashes merged unless disableMergeSlashes)', () => {
  test('path: {} — Envoy Gateway\'s defaults: an escaped slash is redirected (307) to the unescaped, merged path; the query kept', async () => {
    await serve(ctp('  path: {}'));
    const before = admin.seen.length + backend.seen.length;
    const r = await raw(port, 'GET /admin%2fusers//list?q=%2F HTTP/1.1');
    assert.equal(r.status, 307);
    assert.equal(headerOf(r, 'location'), '/admin/users/list?q=%2F');
    assert.equal(admin.seen.length + backend.seen.length, before, 'nothing reached an upstream');
    const followed = await raw(port, 'GET /admin/users/list?q=%2F HTTP/1.1');
    assert.deepEqual([followed.echo?.backend, followed.echo?.url], ['admin', '/admin/users/list?q=%2F']);
    // Merged slashes without an escaped one are forwarded, merged: routing and upstream see /admin/users.
    const merged = await raw(port, 'GET //admin//users HTTP/1.1');
    assert.deepEqual([merged.echo?.backend, merged.echo?.url], ['admin', '/admin/users']);
    // %5C (backslash) counts as an escaped slash too; an escaped slash in the query alone does not.
    assert.equal((await raw(port, 'GET /admin%5Cusers HTTP/1.1')).status, 307);
    assert.equal((await raw(port, 'GET /get?next=%2Fadmin HTTP/1.1')).echo?.url, '/get?next=%2Fadmin');
  });

  test('only the targeted listener: "other" keeps the gateway\'s BASE normalization', async () => {
    await serve(ctp('  path: {}'));
    const r = await raw(other, 'GET /admin%2Fusers HTTP/1.1');
    assert.deepEqual([r.status, r.echo?.backend, r.echo?.url], [200, 'backend', '/admin%2Fusers']);
    const d = await raw(other, 'GET //admin//users HTTP/1.1');
    assert.equal(d.echo?.url, '//admin//users');
  });

  test('a gRPC request is refused, not redirected (HTTP 200, grpc-status 13 INTERNAL)', async () => {
    await serve(ctp('  path: { escapedSlashesAction: UnescapeAndRedirect }'));
    const answer = await h2c(port, { ':method': 'POST', ':path': '/admin%2FSvc/Method', 'content-type': 'application/grpc', te: 'trailers' });
    assert.equal(answer[':status'], 200);
    assert.equal(answer['grpc-status'], '13');
  });

  test('RejectRequest: 400 for %2F or %5C in the path (any case); the same path without one is served', async () => {
    await serve(ctp('  path: { escapedSlashesAction: RejectRequest }'));
    for (const p of ['/admin%2Fusers', '/admin%2fusers', '/a%5cb', '/%5C']) {
      const r = await raw(port, `GET ${p} HTTP/1.1`);
      assert.equal(r.status, 400, p);
      assert.equal(r.echo, undefined, `${p} never proxied`);
    }
    const ok = await raw(port, 'GET /admin/users?x=%2F HTTP/1.1');
    assert.deepEqual([ok.status, ok.echo?.backend], [200, 'admin']);
  });

  test('UnescapeAndForward: routing and upstream see the unescaped path (/admin%2Fusers is the /admin route)', async () => {
    await serve(ctp('  path: { escapedSlashesAction: UnescapeAndForward }'));
    const r = await raw(port, 'GET /admin%2Fusers HTTP/1.1');
    assert.deepEqual([r.status, r.echo?.backend, r.echo?.url], [200, 'admin', '/admin/users']);
    const b = await raw(port, 'GET /x%5C..%5Cadmin HTTP/1.1');
    assert.deepEqual([b.echo?.backend, b.echo?.url], ['admin', '/admin'], 'unescaped backslashes are slashes, then dot segments go');
  });

  test('KeepUnchanged: %2F forwarded as sent, one segment for routing and upstream; slashes still merged', async () => {
    await serve(ctp('  path: { escapedSlashesAction: KeepUnchanged }'));
    const r = await raw(port, 'GET /admin%2fusers HTTP/1.1');
    assert.deepEqual([r.status, r.echo?.backend, r.echo?.url], [200, 'backend', '/admin%2Fusers']);
    const m = await raw(port, 'GET /admin//users HTTP/1.1');
    assert.deepEqual([m.echo?.backend, m.echo?.url], ['admin', '/admin/users']);
  });

  test('disableMergeSlashes: adjacent slashes stay (//admin is not the /admin route); with UnescapeAndForward %2F%2F stays two slashes', async () => {
    await serve(ctp('  path: { disableMergeSlashes: true, escapedSlashesAction: UnescapeAndForward }'));
    const d = await raw(port, 'GET //admin//users HTTP/1.1');
    assert.deepEqual([d.echo?.backend, d.echo?.url], ['backend', '//admin//users']);
    const e = await raw(port, 'GET /admin%2F%2Fusers HTTP/1.1');
    assert.deepEqual([e.echo?.backend, e.echo?.url], ['admin', '/admin//users']);
    await serve(ctp('  path: { disableMergeSlashes: true }'));
    const redirected = await raw(port, 'GET /admin%2F%2Fusers HTTP/1.1');
    assert.equal(headerOf(redirected, 'location'), '/admin//users', 'redirected without merging');
  });

  test('a value Envoy Gateway does not define is refused by validation (the running configuration stays)', async () => {
    await serve(ctp('  path: { escapedSlashesAction: RejectRequest }'));
    await gw.write(config(ctp('  path: { escapedSlashesAction: UnescapeRedirect }')));
    assert.equal(await gw.instance.reload(), false);
    assert.equal((await raw(port, 'GET /a%2Fb HTTP/1.1')).status, 400, 'RejectRequest still applies');
    await gw.write(config(ctp('  path: { disableMergeSlashes: "yes" }')));
    assert.equal(await gw.instance.reload(), false);
  });
});

describe('healthCheck.path (Envoy\'s health check filter, not pass-through)', () => {
  test('the listener answers 200 itself on exactly that path, any method; other paths, a query, or the untargeted listener are proxied', async () => {
    await serve(ctp('  healthCheck: { path: /healthz }'));
    const seen = backend.seen.length;
    for (const method of ['GET', 'HEAD', 'POST']) {
      const r = await raw(port, `${method} /healthz HTTP/1.1`, 'Host: anything.invalid\r\nContent-Length: 0\r\n');
      assert.equal(r.status, 200, method);
      assert.equal(r.echo, undefined);
    }
    assert.equal(backend.seen.length, seen, 'no health check reached the upstream');
    // Normalized first, as Envoy does before its filters: /./healthz is /healthz.
    assert.equal((await raw(port, 'GET /./healthz HTTP/1.1')).echo, undefined);
    for (const p of ['/healthz?full=1', '/healthz/', '/healthzz', '/HEALTHZ']) {
      const r = await raw(port, `GET ${p} HTTP/1.1`);
      assert.equal(r.echo?.backend, 'backend', `${p} is proxied`);
    }
    assert.equal((await raw(other, 'GET /healthz HTTP/1.1')).echo?.backend, 'backend', 'the other listener proxies it');
  });

  test('a path that could never match makes the policy Invalid; a missing path fails validation', async () => {
    await serve(ctp('  healthCheck: { path: healthz }', 'bad-hc'));
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/bad-hc');
    assert.equal(st.accepted, false);
    assert.match(JSON.stringify(st), /healthCheck\.path: \\"healthz\\" must be a path starting with/);
    assert.equal((await raw(port, 'GET /healthz HTTP/1.1')).echo?.backend, 'backend', 'not applied');
    await gw.write(config(ctp('  healthCheck: {}')));
    assert.equal(await gw.instance.reload(), false);
    await gw.write(config(ctp(`  healthCheck: { path: /${'a'.repeat(1024)} }`)));
    assert.equal(await gw.instance.reload(), false, 'over 1024 characters');
  });

  test('served fields are not named in UnsupportedFields', async () => {
    await serve(ctp('  healthCheck: { path: /healthz }\n  path: { disableMergeSlashes: true, escapedSlashesAction: KeepUnchanged }', 'served'));
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/served');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });
});

describe('http1.http10.useDefaultHost', () => {
  const HTTP10 = 'GET /get HTTP/1.0';
  test('without it, an HTTP/1.0 request without Host matches no hostname route (404)', async () => {
    await serve('');
    assert.equal((await raw(port, HTTP10, '')).status, 404);
  });

  test('the one hostname the listener\'s routes have is given to an HTTP/1.0 request without Host: routed, and the upstream sees it', async () => {
    await serve(ctp('  http1: { http10: { useDefaultHost: true } }'));
    const r = await raw(port, HTTP10, '');
    assert.deepEqual([r.status, r.echo?.backend, r.echo?.headers.host], [200, 'backend', 'www.example.com']);
    assert.equal((await raw(port, HTTP10, 'Host: elsewhere.example\r\n')).status, 404, 'a Host sent is kept');
    assert.equal((await raw(other, HTTP10, '')).status, 404, 'the untargeted listener is unchanged');
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/extra');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('the listener\'s own hostname comes first; with neither it nor exactly one route hostname the policy says it is not applied', async () => {
    const api = routeYaml('api', '- backendRefs: [{ name: admin, port: 3000 }]', { parent: 'eg', hostnames: ['api.example.com'] });
    await serve(api + ctp('  http1: { http10: { useDefaultHost: true } }', 'two-hosts'));
    assert.equal((await raw(port, HTTP10, '')).status, 404);
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/two-hosts');
    assert.match(JSON.stringify(st), /useDefaultHost: the listeners on port \d+ have no hostname and their routes not exactly one/);
    const named = gatewayDoc([`{ name: http, protocol: HTTP, port: ${port}, hostname: api.example.com }`, httpListener(other, 'other')], { name: 'eg', className: 'eg' });
    await gw.write(named + serviceYaml('backend', [{ port: backend.port }]) + serviceYaml('admin', [{ port: admin.port }]) + egRouteYaml('backend', '/') + api +
      ctp('  http1: { http10: { useDefaultHost: true } }', 'two-hosts'));
    assert.equal(await gw.instance.reload(), true);
    const r = await raw(port, HTTP10, '');
    assert.deepEqual([r.status, r.echo?.backend, r.echo?.headers.host], [200, 'admin', 'api.example.com']);
  });
});

const RETRANSMIT = 1;
const KEEPALIVE = 2;

/**
 * The kernel's timer on the gateway's side of the connection from
 * `clientPort`, once it is not the retransmit one (the answer not yet acked)
 * and `done` holds for it; fails past 10 s.
 */
function gatewayTimer(gatewayPort: number, clientPort: number, done: (t: TcpTimer) => boolean = () => true): Promise<TcpTimer> {
  return until(`the timer on the gateway's side of port ${clientPort}`, async () => {
    const t = await tcpTimer(gatewayPort, clientPort);
    return t.kind !== RETRANSMIT && t.kind !== 4 && done(t) && t;
  }, 10_000);
}

/** An open HTTP/1.1 connection that has been answered once (so the gateway holds it, idle). */
async function idleConnection(p: number): Promise<net.Socket> {
  const socket = net.connect(p, '127.0.0.1');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.once('data', () => resolve());
    socket.write('GET /get HTTP/1.1\r\nHost: www.example.com\r\n\r\n');
  });
  return socket;
}

describe('tcpKeepalive', () => {
  test('without it, no keepalive on accepted connections', async () => {
    await serve('');
    const s = await idleConnection(port);
    try {
      assert.notEqual((await gatewayTimer(port, s.localPort!)).kind, KEEPALIVE);
    } finally {
      s.destroy();
    }
  });

  // The values set are read back from the kernel's keepalive timer: it first
  // counts idleTime, then (once a probe went, acked at once on loopback) interval.
  test('idleTime is the first probe\'s delay; interval the next ones\'; the untargeted listener gets none', async () => {
    await serve(ctp('  tcpKeepalive: { idleTime: 30s, interval: 5s, probes: 3 }'));
    const s = await idleConnection(port);
    const o = await idleConnection(other);
    try {
      const t = await gatewayTimer(port, s.localPort!);
      assert.ok(t.kind === KEEPALIVE && t.seconds > 20 && t.seconds <= 30, `keepalive timer ${JSON.stringify(t)}`);
      assert.notEqual((await gatewayTimer(other, o.localPort!)).kind, KEEPALIVE);
    } finally {
      s.destroy();
      o.destroy();
    }
    // idleTime 1s, interval 40s: the timer counts 1 s, then 40 s (Node's 7200 s / 75 s defaults would show instead were either lost).
    await serve(ctp('  tcpKeepalive: { idleTime: 1s, interval: 40s }'));
    const k = await idleConnection(port);
    try {
      const t = await gatewayTimer(port, k.localPort!, (x) => x.kind === KEEPALIVE && x.seconds > 1);
      assert.ok(t.seconds > 30 && t.seconds <= 40, `after the first probe ${t.seconds}s`);
    } finally {
      k.destroy();
    }
  });

  test('bad input: under a second, a fraction of one, or 0 probes are refused', async () => {
    await serve(ctp('  tcpKeepalive: { idleTime: 500ms }', 'ka-bad'));
    assert.match(JSON.stringify(await statusOf(gw, 'ClientTrafficPolicy/default/ka-bad')), /tcpKeepalive\.idleTime: \\"500ms\\" must be a whole number of seconds/);
    await serve(ctp('  tcpKeepalive: { interval: 1500ms }', 'ka-bad'));
    assert.match(JSON.stringify(await statusOf(gw, 'ClientTrafficPolicy/default/ka-bad')), /tcpKeepalive\.interval/);
    for (const bad of ['{ probes: 0 }', '{ idleTime: soon }', '{ retries: 3 }']) {
      await gw.write(config(ctp(`  tcpKeepalive: ${bad}`)));
      assert.equal(await gw.instance.reload(), false, bad);
    }
  });
});

describe('http1.enableTrailers', () => {
  const TRAILER = { 'x-upstream-trailer': 'backend' };
  test('without a policy, HTTP/1 clients get the upstream\'s response trailers (as always)', async () => {
    await serve('');
    assert.deepEqual(await http1Trailers(port, '/trailers'), TRAILER);
  });

  test('a policy without it drops them for HTTP/1 clients (Envoy Gateway\'s default); HTTP/2 clients and the untargeted listener keep them', async () => {
    await serve(ctp('  http1: { enableTrailers: false }'));
    assert.deepEqual(await http1Trailers(port, '/trailers'), {});
    assert.equal((await h2c(port, { ':path': '/trailers' }))['x-upstream-trailer'], 'backend');
    assert.deepEqual(await http1Trailers(other, '/trailers'), TRAILER);
    await serve(ctp('  timeout: { http: { idleTimeout: 30s } }'));
    assert.deepEqual(await http1Trailers(port, '/trailers'), {}, 'any policy on the listener');
  });

  test('a gRPC Trailers-Only status reaches an HTTP/1 client as trailers, or in the headers where trailers are dropped', async () => {
    await serve('');
    assert.equal(headerOf(await raw(port, 'GET /trailers-only HTTP/1.1'), 'grpc-status'), undefined);
    assert.deepEqual(await http1Trailers(port, '/trailers-only'), { 'grpc-status': '5' });
    await serve(ctp('  http1: { enableTrailers: false }'));
    assert.equal(headerOf(await raw(port, 'GET /trailers-only HTTP/1.1'), 'grpc-status'), '5');
  });

  test('enableTrailers: true relays them; the request direction is named as not served', async () => {
    await serve(ctp('  http1: { enableTrailers: true }'));
    assert.deepEqual(await http1Trailers(port, '/trailers'), TRAILER);
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/extra');
    const msg = st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields')?.message;
    assert.match(msg, /: http1\.enableTrailers: request trailers \(undici/);
  });
});

describe('http1.preserveHeaderCase', () => {
  const CASED = 'GET /case HTTP/1.1';
  const HEADERS = 'Host: www.example.com\r\nX-Client-Case: 1\r\nACCEPT: */*\r\n';
  test('without it, header names go both ways lower-cased', async () => {
    await serve('');
    const r = await raw(port, CASED, HEADERS);
    assert.ok(r.echo?.rawNames?.includes('x-client-case') && r.echo.rawNames.includes('accept'), JSON.stringify(r.echo?.rawNames));
    assert.match(r.head, /\r\nx-mixed-case: yes/);
  });

  test('with it, the client\'s names reach the upstream and the upstream\'s the client in their case; the gateway\'s own stay lower case; the untargeted listener is unchanged', async () => {
    await serve(ctp('  http1: { preserveHeaderCase: true }'));
    const r = await raw(port, CASED, HEADERS);
    const names = r.echo?.rawNames ?? [];
    for (const n of ['X-Client-Case', 'ACCEPT', 'x-forwarded-for', 'x-request-id']) assert.ok(names.includes(n), `${n} in ${names}`);
    assert.match(r.head, /\r\nX-Mixed-Case: yes\r\n/);
    assert.match(r.head, /\r\ncontent-type: application\/json/);
    const o = await raw(other, CASED, HEADERS);
    assert.ok(o.echo?.rawNames?.includes('x-client-case'), JSON.stringify(o.echo?.rawNames));
    assert.match(o.head, /\r\nx-mixed-case: yes/);
    // HTTP/2 on the same listener: names are lower case by definition, the answer as usual.
    assert.equal((await h2c(port, { ':path': '/case' }))['x-mixed-case'], 'yes');
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/extra');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('on a route that retries, the answering attempt\'s names are the ones written', async () => {
    const retried = routeYaml('cased', `- matches: [{ path: { type: PathPrefix, value: /case } }]
  backendRefs: [{ name: backend, port: 3000 }]
  retry: { codes: [503], attempts: 2 }`, { parent: 'eg', hostnames: ['www.example.com'] });
    await serve(retried + ctp('  http1: { preserveHeaderCase: true }'));
    assert.match((await raw(port, CASED, HEADERS)).head, /\r\nX-Mixed-Case: yes\r\n/);
  });
});
