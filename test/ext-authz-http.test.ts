// The HTTP ext_authz client against a real HTTP authorization server that
// behaves like Istio's sample ext-authz (allow on "x-ext-authz: allow").
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { RequestContext } from '../src/core/request.ts';
import { applyExtAuthzResult, createExtAuthzClient, type ExtAuthzHttpConfig } from '../src/authz/ext-authz/client.ts';
import { openHttpAuthzOrigins } from '../src/authz/ext-authz/http-client.ts';
import { freePort } from './helpers/ports.ts';

interface Seen {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

let server: http.Server;
let port = 0;
let downPort = 0;
const seen: Seen[] = [];
const held: http.ServerResponse[] = [];

before(async () => {
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      seen.push({ method: req.method!, url: req.url!, headers: req.headers, body });
      const path = (req.url ?? '').replace(/^\/check/, '');
      if (path.startsWith('/slow')) {
        held.push(res); // never answered: the client's deadline must fire
        return;
      }
      if (path.startsWith('/boom')) {
        res.writeHead(503, { 'content-type': 'text/plain' }).end('overloaded');
        return;
      }
      if (path.startsWith('/big')) {
        res.writeHead(401, { 'content-type': 'text/plain' });
        res.end(Buffer.alloc(200 * 1024, 'a'));
        return;
      }
      if (path.startsWith('/login')) {
        res.writeHead(302, { location: 'https://idp.example.com/auth', 'set-cookie': 'state=1', 'x-other': 'no' }).end();
        return;
      }
      if (path.startsWith('/created')) {
        res.writeHead(201).end();
        return;
      }
      if (req.headers['x-ext-authz'] === 'allow') {
        res.writeHead(200, {
          'x-ext-authz-check-result': 'allowed',
          'x-auth-request-user': 'alice',
          'x-auth-request-email': 'alice@example.com',
          'x-not-forwarded': 'secret',
          'set-cookie': ['a=1', 'b=2'],
          'x-envoy-auth-headers-to-remove': 'cookie, x-drop-me',
        }).end('ignored body');
        return;
      }
      res.writeHead(403, {
        'content-type': 'text/plain',
        'x-ext-authz-check-result': 'denied',
        'www-authenticate': 'Bearer realm="x"',
        'x-internal': 'hidden',
      }).end('denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
  downPort = await freePort(); // nothing listens there: outside the ephemeral range, never bound
});

after(async () => {
  for (const res of held) res.destroy();
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

function config(over: Partial<ExtAuthzHttpConfig> = {}): ExtAuthzHttpConfig {
  return {
    protocol: 'http',
    name: 'sample-ext-authz-http',
    endpoints: [{ host: '127.0.0.1', port }],
    timeoutMs: 2000,
    failOpen: false,
    statusOnError: 403,
    pathPrefix: '/check',
    allowedHeaders: [{ kind: 'exact', value: 'x-ext-authz' }, { kind: 'prefix', value: 'x-forward-' }],
    headersToAdd: [{ name: 'x-added', value: 'by-portcullis' }],
    allowedUpstreamHeaders: [{ kind: 'exact', value: 'x-ext-authz-check-result' }, { kind: 'prefix', value: 'X-Auth-Request-' }],
    allowedClientHeaders: [{ kind: 'exact', value: 'content-type' }, { kind: 'exact', value: 'x-ext-authz-check-result' }],
    allowedClientHeadersOnSuccess: [{ kind: 'exact', value: 'set-cookie' }],
    ...over,
  };
}

function ctx(path: string, headers: Record<string, string> = {}, method = 'GET', query = ''): RequestContext {
  return new RequestContext({
    method, host: 'httpbin.foo', authority: 'httpbin.foo:8000', port: 8000, scheme: 'http', path, query,
    headers: { host: 'httpbin.foo:8000', ...headers }, clientIp: '10.0.0.1', remoteIp: '10.0.0.1', localIp: '10.0.0.2',
    tls: undefined, requestId: 'r1', tracing: true,
  });
}

test('allow: the check request, then upstream headers set, listed headers removed, client headers on success', async () => {
  const cfg = config();
  const client = createExtAuthzClient(cfg);
  try {
    const c = ctx('/headers', {
      'x-ext-authz': 'allow', authorization: 'Bearer t0k', cookie: 'sid=1', 'x-drop-me': '1', 'x-forward-me': 'yes',
      'user-agent': 'curl', 'x-ext-authz-check-result': 'forged-by-client',
    }, 'PUT', 'a=1&b=2');
    const before = seen.length;
    const result = await client.check(c);
    assert.equal(result.kind, 'allow');
    const req = seen[before];
    assert.equal(req.method, 'PUT', 'same method as the client');
    assert.equal(req.url, '/check/headers?a=1&b=2', 'pathPrefix + original path and query');
    assert.equal(req.headers.host, 'httpbin.foo:8000', 'original authority');
    assert.equal(req.headers.authorization, 'Bearer t0k', 'Authorization is always sent');
    assert.equal(req.headers['x-ext-authz'], 'allow');
    assert.equal(req.headers['x-forward-me'], 'yes', 'prefix-allowed');
    assert.equal(req.headers['x-added'], 'by-portcullis', 'includeAdditionalHeadersInCheck');
    assert.equal(req.headers.cookie, undefined, 'not allowed');
    assert.equal(req.headers['user-agent'], undefined, 'not allowed');
    assert.equal(req.headers['content-length'], '0');
    assert.equal(req.body, '');

    assert.equal(applyExtAuthzResult(c, cfg, result), undefined);
    assert.equal(c.headers['x-ext-authz-check-result'], 'allowed', 'overwrites what the client sent');
    assert.equal(c.headers['x-auth-request-user'], 'alice');
    assert.equal(c.headers['x-auth-request-email'], 'alice@example.com');
    assert.equal(c.headers['x-not-forwarded'], undefined);
    assert.equal(c.headers.cookie, undefined, 'x-envoy-auth-headers-to-remove');
    assert.equal(c.headers['x-drop-me'], undefined);
    assert.equal(c.headers.host, 'httpbin.foo:8000', 'Host is never touched');
    assert.deepEqual(c.responseHeaders, { 'set-cookie': ['a=1', 'b=2'] });
  } finally {
    client.close();
  }
});

test('deny: status, body and allowed headers are relayed (+ WWW-Authenticate by default)', async () => {
  const cfg = config();
  const client = createExtAuthzClient(cfg);
  try {
    const c = ctx('/headers', { 'x-ext-authz': 'deny' });
    const result = await client.check(c);
    const d = applyExtAuthzResult(c, cfg, result);
    assert.ok(d);
    assert.equal(d.status, 403);
    assert.equal(d.body, 'denied by ext_authz for not found header `x-ext-authz: allow` in the request');
    assert.deepEqual(d.headers, { 'content-type': 'text/plain', 'x-ext-authz-check-result': 'denied', 'www-authenticate': 'Bearer realm="x"' });

    const redirect = applyExtAuthzResult(c, cfg, await client.check(ctx('/login')));
    assert.equal(redirect!.status, 302);
    assert.deepEqual(redirect!.headers, { location: 'https://idp.example.com/auth' });

    // Only 200 allows, as in Envoy: a 201 is a denial carrying 201.
    const created = await client.check(ctx('/created'));
    assert.equal(created.kind, 'deny');
  } finally {
    client.close();
  }
});

test('deny with no client-header list relays every header but Host and framing', async () => {
  const cfg = config({ allowedClientHeaders: [] });
  const client = createExtAuthzClient(cfg);
  try {
    const result = await client.check(ctx('/login'));
    assert.equal(result.kind, 'deny');
    const names = result.kind === 'deny' ? result.headers.map(([n]) => n).sort() : [];
    assert.deepEqual(names, ['date', 'location', 'set-cookie', 'x-other']);
  } finally {
    client.close();
  }
});

test('errors: 5xx, timeout, server down, oversized body → failOpen decides, else statusOnError', async () => {
  const cases: [string, Partial<ExtAuthzHttpConfig>, RegExp][] = [
    ['/boom', {}, /answered 503/],
    ['/slow', { timeoutMs: 150 }, /timed out/],
    ['/headers', { endpoints: [{ host: '127.0.0.1', port: downPort }] }, /unreachable \(ECONNREFUSED\)/],
    ['/big', {}, /larger than/],
  ];
  for (const [path, over, why] of cases) {
    for (const failOpen of [false, true]) {
      const cfg = config({ ...over, failOpen, statusOnError: 503 });
      const client = createExtAuthzClient(cfg);
      try {
        const c = ctx(path, { 'x-ext-authz': 'allow' });
        const started = Date.now();
        const result = await client.check(c);
        assert.equal(result.kind, 'error', path);
        assert.match(result.kind === 'error' ? result.reason : '', why);
        assert.ok(Date.now() - started < 4000, 'bounded by the deadline');
        const d = applyExtAuthzResult(c, cfg, result);
        if (failOpen) assert.equal(d, undefined, `${path}: failOpen lets it through`);
        else assert.deepEqual(d, { status: 503, body: '' }, `${path}: statusOnError`);
      } finally {
        client.close();
      }
    }
  }
});

test('hostile client headers are not forwarded raw; odd methods do not throw', async () => {
  const client = createExtAuthzClient(config({ allowedHeaders: [{ kind: 'prefix', value: '' }] }));
  try {
    const r1 = await client.check(ctx('/headers', { connection: 'close', 'transfer-encoding': 'chunked', 'x-ext-authz': 'allow' }));
    assert.equal(r1.kind, 'allow', 'hop-by-hop headers are dropped, not an error');
    const r2 = await client.check(ctx('/headers', { 'x-ext-authz': 'allow' }, 'CONNECT'));
    assert.ok(['allow', 'deny', 'error'].includes(r2.kind));
  } finally {
    client.close();
  }
});

test('pools are shared by configs naming the same endpoint and closed with the last user', async () => {
  const origin = `http://127.0.0.1:${port}`;
  assert.ok(!openHttpAuthzOrigins().includes(origin));
  const a = createExtAuthzClient(config());
  const b = createExtAuthzClient(config({ name: 'next-snapshot' }));
  assert.deepEqual(openHttpAuthzOrigins().filter((o) => o === origin), [origin]);
  a.close();
  a.close(); // idempotent
  assert.ok(openHttpAuthzOrigins().includes(origin));
  assert.equal((await b.check(ctx('/headers', { 'x-ext-authz': 'allow' }))).kind, 'allow');
  b.close();
  assert.ok(!openHttpAuthzOrigins().includes(origin));
});
