// Istio's external authorization task end to end: the mesh config and CUSTOM
// policy from the task page, built by translate, compiled, and run against real
// HTTP and gRPC authorizers on ephemeral ports.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { parseAllDocuments } from 'yaml';
import { RequestContext } from '../src/core/request.ts';
import type { LoadedResource } from '../src/resources/types.ts';
import type { CompiledFilter, Decision } from '../src/filters/types.ts';
import { istioAuthorizationFilter, type IstioAuthorizationConfig } from '../src/filters/istio-authorization.ts';
import { buildAuthorizationFilter } from '../src/translate/istio/authorization-policy.ts';
import { findMeshConfigMap, parseMeshConfig, type ServiceResolver } from '../src/translate/istio/mesh-config.ts';
import { EXTERNAL_AUTH_PROTO, PROTO_OPTIONS } from '../src/authz/ext-authz/grpc-client.ts';
import { freePort } from './helpers/ports.ts';
import { bareCompileContext } from './helpers/compile-context.ts';

let httpServer: http.Server;
let grpcServer: grpc.Server;
let httpPort = 0;
let grpcPort = 0;
let downPort = 0;
let checks = 0;

const DENIED = 'denied by ext_authz for not found header `x-ext-authz: allow` in the request';

before(async () => {
  httpServer = http.createServer((req, res) => {
    checks++;
    if (req.headers['x-ext-authz'] === 'allow') res.writeHead(200, { 'x-ext-authz-check-result': 'allowed' }).end();
    else res.writeHead(403, { 'x-ext-authz-check-result': 'denied', 'content-type': 'text/plain' }).end(DENIED);
  });
  await new Promise<void>((r) => httpServer.listen(0, '127.0.0.1', r));
  httpPort = (httpServer.address() as net.AddressInfo).port;

  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(EXTERNAL_AUTH_PROTO, PROTO_OPTIONS)) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  grpcServer = new grpc.Server();
  grpcServer.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<{ attributes: { request: { http: { headers: Record<string, string> } } } }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      checks++;
      if (call.request.attributes.request.http.headers['x-ext-authz'] === 'allow') {
        cb(null, { status: { code: 0 }, ok_response: { headers: [{ header: { key: 'x-ext-authz-check-result', value: 'allowed' } }] } });
      } else {
        cb(null, { status: { code: 7 }, denied_response: { status: { code: 403 }, body: DENIED } });
      }
    },
  });
  grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  downPort = await freePort(); // nothing listens there: outside the ephemeral range, never bound
});

after(async () => {
  grpcServer.forceShutdown();
  httpServer.closeAllConnections();
  await new Promise<void>((r) => httpServer.close(() => r()));
});

const MESH = `apiVersion: v1
kind: ConfigMap
metadata:
  name: istio
  namespace: istio-system
data:
  mesh: |-
    # Add the following content to define the external authorizers.
    extensionProviders:
    - name: "sample-ext-authz-grpc"
      envoyExtAuthzGrpc:
        service: "ext-authz.foo.svc.cluster.local"
        port: "9000"
    - name: "sample-ext-authz-http"
      envoyExtAuthzHttp:
        service: "ext-authz.foo.svc.cluster.local"
        port: "8000"
        includeRequestHeadersInCheck: ["x-ext-authz"]
        headersToUpstreamOnAllow: ["x-ext-authz-check-result"]
    - name: "down"
      envoyExtAuthzHttp:
        service: "down.foo.svc.cluster.local"
        port: "8000"
`;

const policy = (provider: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ext-authz
  namespace: foo
spec:
  selector:
    matchLabels:
      app: httpbin
  action: CUSTOM
  provider:
    # The provider name must match the extension provider defined in the mesh config.
    # You can also replace this with sample-ext-authz-http to test the other external authorizer definition.
    name: ${provider}
  rules:
  # The rules specify when to trigger the external authorizer.
  - to:
    - operation:
        paths: ["/headers"]
---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: get-only
  namespace: foo
spec:
  action: ALLOW
  rules:
  - to:
    - operation:
        methods: ["GET"]
`;

function load(text: string): LoadedResource[] {
  return parseAllDocuments(text).map((d, i) => ({ resource: d.toJS(), seq: i }));
}

// The lead's translate resolves services from Services/EndpointSlices; here the test servers stand in.
const resolve: ServiceResolver = (service, port) => {
  if (service === 'ext-authz.foo.svc.cluster.local') return [{ host: '127.0.0.1', port: port === 9000 ? grpcPort : httpPort }];
  if (service === 'down.foo.svc.cluster.local') return [{ host: '127.0.0.1', port: downPort }];
  return undefined;
};

function filterFor(provider: string): CompiledFilter {
  const { mesh, errors } = parseMeshConfig(findMeshConfigMap(load(MESH), 'istio-system'));
  assert.deepEqual(errors, []);
  const res = buildAuthorizationFilter(load(policy(provider)), mesh, resolve, { hop: 'Service/foo/httpbin' });
  assert.deepEqual(res.errors, []);
  return istioAuthorizationFilter.compile(res.filter!.config as IstioAuthorizationConfig, bareCompileContext(res.filter!.origin));
}

function ctx(path: string, headers: Record<string, string> = {}, method = 'GET'): RequestContext {
  return new RequestContext({
    method, host: 'httpbin.foo', authority: 'httpbin.foo:8000', port: 8000, scheme: 'http', path, query: '', headers: { host: 'httpbin.foo:8000', ...headers },
    clientIp: '10.0.0.1', remoteIp: '10.0.0.1', localIp: '10.0.0.2', tls: undefined, requestId: 'r', tracing: true,
  });
}

for (const provider of ['sample-ext-authz-grpc', 'sample-ext-authz-http']) {
  test(`CUSTOM with ${provider}: denies, allows, then DENY/ALLOW still apply; other paths skip the check`, async () => {
    const f = filterFor(provider);
    try {
      const denied = ctx('/headers', { 'x-ext-authz': 'deny' });
      const d1 = f.onRequest!(denied);
      assert.ok(d1 instanceof Promise, 'a matching request goes to the external authorizer');
      const r1 = await d1;
      assert.equal(r1?.status, 403);
      assert.equal(r1?.body, DENIED);
      assert.match(denied.trace!.at(-1)!.reason, new RegExp(`external authorizer ${provider} denied`));

      const allowed = ctx('/headers', { 'x-ext-authz': 'allow' });
      assert.equal(await f.onRequest!(allowed), undefined);
      assert.equal(allowed.headers['x-ext-authz-check-result'], 'allowed', 'the upstream sees the authorizer header');
      assert.deepEqual(allowed.trace!.map((e) => e.decision), ['allow', 'allow']);

      const post = ctx('/headers', { 'x-ext-authz': 'allow' }, 'POST');
      const r3 = (await f.onRequest!(post)) as Decision;
      assert.equal(r3?.status, 403, 'the ALLOW policy still has to allow');
      assert.equal(r3?.body, 'RBAC: access denied');

      const before = checks;
      const ip = f.onRequest!(ctx('/ip'));
      assert.ok(!(ip instanceof Promise), 'no CUSTOM rule matches: decided synchronously');
      assert.equal(ip, undefined);
      assert.equal(checks, before, 'the authorizer was not asked');
    } finally {
      f.close!();
    }
  });
}

test('CUSTOM with an unreachable authorizer and failOpen unset: 403, recorded as an error', async () => {
  const f = filterFor('down');
  try {
    const c = ctx('/headers', { 'x-ext-authz': 'allow' });
    const d = await f.onRequest!(c);
    assert.deepEqual(d, { status: 403, body: '' });
    const last = c.trace!.at(-1)!;
    assert.equal(last.decision, 'error');
    assert.match(last.reason, /unreachable/);
    assert.equal(last.origin, 'AuthorizationPolicy/foo/ext-authz');
  } finally {
    f.close!();
  }
});
