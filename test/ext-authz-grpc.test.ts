// The gRPC ext_authz client against a real grpc-js Authorization server on an
// ephemeral port, speaking envoy.service.auth.v3 as Istio's sample ext-authz.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { RequestContext } from '../src/core/request.ts';
import { applyExtAuthzResult, createExtAuthzClient, type ExtAuthzGrpcConfig } from '../src/authz/ext-authz/client.ts';
import { EXTERNAL_AUTH_PROTO, PROTO_OPTIONS, openGrpcAuthzTargets } from '../src/authz/ext-authz/grpc-client.ts';
import { freePort } from './helpers/ports.ts';

interface CheckRequest {
  attributes: {
    source: { address: { socket_address: { address: string; port_value: number } }; principal?: string };
    destination: { address: { socket_address: { address: string; port_value: number } } };
    request: { time: { seconds: number }; http: { id: string; method: string; headers: Record<string, string>; path: string; host: string; scheme: string; protocol: string; size: number } };
  };
}

type Callback = grpc.sendUnaryData<unknown>;

let server: grpc.Server;
let port = 0;
let downPort = 0;
const seen: CheckRequest[] = [];
const held: Callback[] = [];

const hv = (key: string, value: string, append?: boolean) => ({ header: { key, value }, ...(append === undefined ? {} : { append: { value: append } }) });

before(async () => {
  const def = protoLoader.loadSync(EXTERNAL_AUTH_PROTO, PROTO_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  server = new grpc.Server();
  server.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<CheckRequest, unknown>, cb: Callback) {
      const req = call.request;
      seen.push(req);
      const http = req.attributes.request.http;
      const path = http.path;
      if (path.startsWith('/slow')) {
        held.push(cb);
        return;
      }
      if (path.startsWith('/fail')) {
        cb({ code: grpc.status.INTERNAL, details: 'boom' });
        return;
      }
      if (path.startsWith('/nodeny')) {
        cb(null, { status: { code: grpc.status.PERMISSION_DENIED } });
        return;
      }
      if (path.startsWith('/weird')) {
        cb(null, {
          status: { code: grpc.status.UNAUTHENTICATED },
          denied_response: {
            status: { code: 99 },
            headers: [hv('x-bad', 'a\r\nb'), hv('Bad Name', 'x'), hv('content-length', '999'), hv('transfer-encoding', 'chunked'), hv('x-ok', 'fine')],
            body: 'nope',
          },
        });
        return;
      }
      if (http.headers['x-ext-authz'] === 'allow') {
        cb(null, {
          status: { code: grpc.status.OK },
          ok_response: {
            headers: [hv('x-ext-authz-check-result', 'allowed'), hv('x-append', 'two', true), hv('x-set', 'new', false)],
            headers_to_remove: ['cookie', 'host', ':path'],
            response_headers_to_add: [hv('set-cookie', 's=1')],
          },
        });
        return;
      }
      cb(null, {
        status: { code: grpc.status.PERMISSION_DENIED },
        denied_response: {
          status: { code: 401 },
          headers: [hv('www-authenticate', 'Bearer realm="ext"'), hv('x-ext-authz-check-result', 'denied')],
          body: 'denied by ext_authz for not found header `x-ext-authz: allow` in the request',
        },
      });
    },
  });
  port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  downPort = await freePort(); // nothing listens there: outside the ephemeral range, never bound
});

after(() => {
  for (const cb of held) cb({ code: grpc.status.CANCELLED });
  server.forceShutdown();
});

function config(over: Partial<ExtAuthzGrpcConfig> = {}): ExtAuthzGrpcConfig {
  return { protocol: 'grpc', name: 'sample-ext-authz-grpc', endpoints: [{ host: '127.0.0.1', port }], timeoutMs: 2000, failOpen: false, statusOnError: 403, ...over };
}

function ctx(path: string, headers: Record<string, string> = {}, query = ''): RequestContext {
  const c = new RequestContext({
    method: 'GET', host: 'httpbin.foo', authority: 'httpbin.foo:8000', port: 8000, scheme: 'http', path, query,
    headers: { host: 'httpbin.foo:8000', 'user-agent': 'curl/8', ...headers }, clientIp: '192.168.10.15', remoteIp: '10.44.0.22',
    localIp: '10.44.3.30', tls: { peerVerified: true, peerUris: ['spiffe://cluster.local/ns/foo/sa/sleep'] }, requestId: 'req-7', tracing: true,
  });
  return c;
}

test('allow: CheckRequest attributes as Envoy sends them; OK headers set/appended/removed', async () => {
  const cfg = config();
  const client = createExtAuthzClient(cfg);
  try {
    const c = ctx('/headers', { 'x-ext-authz': 'allow', cookie: 'sid=1', 'x-append': 'one', 'x-set': 'old' }, 'q=1');
    const before = seen.length;
    const result = await client.check(c);
    assert.equal(result.kind, 'allow');
    const attrs = seen[before].attributes;
    assert.equal(attrs.source.address.socket_address.address, '10.44.0.22');
    assert.equal(attrs.source.principal, 'spiffe://cluster.local/ns/foo/sa/sleep');
    assert.equal(attrs.destination.address.socket_address.address, '10.44.3.30');
    assert.equal(attrs.destination.address.socket_address.port_value, 8000);
    const http = attrs.request.http;
    assert.equal(http.method, 'GET');
    assert.equal(http.path, '/headers?q=1');
    assert.equal(http.host, 'httpbin.foo:8000');
    assert.equal(http.id, 'req-7');
    assert.equal(http.protocol, 'HTTP/1.1');
    assert.equal(http.headers[':authority'], 'httpbin.foo:8000');
    assert.equal(http.headers[':method'], 'GET');
    assert.equal(http.headers[':path'], '/headers?q=1');
    assert.equal(http.headers['user-agent'], 'curl/8', 'gRPC gets every header');
    assert.equal(http.headers.host, undefined, 'Host travels as :authority');
    assert.ok(attrs.request.time.seconds > 1_600_000_000);

    assert.equal(applyExtAuthzResult(c, cfg, result), undefined);
    assert.equal(c.headers['x-ext-authz-check-result'], 'allowed');
    assert.equal(c.headers['x-append'], 'one, two', 'append: true appends');
    assert.equal(c.headers['x-set'], 'new', 'append: false overwrites');
    assert.equal(c.headers.cookie, undefined);
    assert.equal(c.headers.host, 'httpbin.foo:8000', 'Host cannot be removed');
    assert.deepEqual(c.responseHeaders, { 'set-cookie': 's=1' });
  } finally {
    client.close();
  }
});

test('deny: denied_response status/headers/body relayed; none → 403; unusable status and headers dropped', async () => {
  const cfg = config();
  const client = createExtAuthzClient(cfg);
  try {
    const c = ctx('/headers', { 'x-ext-authz': 'deny' });
    const d = applyExtAuthzResult(c, cfg, await client.check(c));
    assert.deepEqual(d, {
      status: 401,
      headers: { 'www-authenticate': 'Bearer realm="ext"', 'x-ext-authz-check-result': 'denied' },
      body: 'denied by ext_authz for not found header `x-ext-authz: allow` in the request',
    });
    assert.deepEqual(applyExtAuthzResult(c, cfg, await client.check(ctx('/nodeny'))), { status: 403, headers: {}, body: '' });
    assert.deepEqual(applyExtAuthzResult(c, cfg, await client.check(ctx('/weird'))), { status: 403, headers: { 'x-ok': 'fine' }, body: 'nope' });
  } finally {
    client.close();
  }
});

test('errors: gRPC failure, deadline, server down → failOpen decides, else statusOnError', async () => {
  const cases: [string, Partial<ExtAuthzGrpcConfig>, RegExp][] = [
    ['/fail', {}, /gRPC status 13/],
    ['/slow', { timeoutMs: 150 }, /timed out/],
    ['/headers', { endpoints: [{ host: '127.0.0.1', port: downPort }] }, /unavailable/],
  ];
  for (const [path, over, why] of cases) {
    for (const failOpen of [false, true]) {
      const cfg = config({ ...over, failOpen, statusOnError: 500 });
      const client = createExtAuthzClient(cfg);
      try {
        const c = ctx(path, { 'x-ext-authz': 'allow' });
        const started = Date.now();
        const result = await client.check(c);
        assert.equal(result.kind, 'error', `${path} failOpen=${failOpen}`);
        assert.match(result.kind === 'error' ? result.reason : '', why);
        assert.ok(Date.now() - started < 4000, 'bounded by the deadline');
        const d = applyExtAuthzResult(c, cfg, result);
        if (failOpen) assert.equal(d, undefined);
        else assert.deepEqual(d, { status: 500, body: '' });
      } finally {
        client.close();
      }
    }
  }
});

test('channels are shared across snapshots naming the same target', async () => {
  const target = `127.0.0.1:${port}`;
  const a = createExtAuthzClient(config());
  const b = createExtAuthzClient(config());
  // The gRPC client loads lazily (only snapshots with a gRPC authorizer pay for grpc-js): check once to have both up.
  await Promise.all([a, b].map((c) => c.check(ctx('/headers', { 'x-ext-authz': 'allow' }))));
  assert.deepEqual(openGrpcAuthzTargets().filter((t) => t === target), [target]);
  a.close();
  assert.equal((await b.check(ctx('/headers', { 'x-ext-authz': 'allow' }))).kind, 'allow');
  b.close();
  assert.ok(!openGrpcAuthzTargets().includes(target));
});
