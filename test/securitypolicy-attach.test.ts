// SecurityPolicy attachment and the remaining task pages over real sockets:
// precedence (route over Gateway, Overridden status), fail-closed cases
// (oidc, missing Secret, cross-namespace target), any-of authentication,
// forged identity headers, external authorization over HTTP and gRPC
// (Envoy Gateway's demo authorizers' behaviour), and mTLS client validation
// from a ClientTrafficPolicy.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { createHash } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { EXTERNAL_AUTH_PROTO, PROTO_OPTIONS } from '../src/authz/ext-authz/grpc-client.ts';
import { startGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, egRequest as request, egRouteYaml, statusOf, withEgGateway } from './helpers/eg-quickstart.ts';
import { issueClientCert, issueServerCert, makeCa } from './helpers/certs.ts';
import { policyYaml, serviceYaml } from './helpers/yaml.ts';

let upstream: Upstream;
let httpAuthz: http.Server;
let httpAuthzPort = 0;
let grpcAuthz: grpc.Server;
let grpcAuthzPort = 0;
const held: http.ServerResponse[] = [];
/** Envoy Gateway's demo authorizers: "Bearer token1" is user1, and so on. */
const USERS: Record<string, string> = { 'Bearer token1': 'user1', 'Bearer token2': 'user2', 'Bearer token3': 'user3' };

before(async () => {
  upstream = await startUpstream('backend');
  httpAuthz = http.createServer((req, res) => {
    if (req.url?.startsWith('/myapp/hang')) {
      held.push(res);
      return;
    }
    const user = USERS[String(req.headers.authorization)];
    if (user) res.writeHead(200, { 'x-current-user': user }).end();
    else res.writeHead(403).end();
  });
  await new Promise<void>((r) => httpAuthz.listen(0, '127.0.0.1', r));
  httpAuthzPort = (httpAuthz.address() as AddressInfo).port;
  const def = protoLoader.loadSync(EXTERNAL_AUTH_PROTO, PROTO_OPTIONS);
  const pkg = grpc.loadPackageDefinition(def) as unknown as { envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } } };
  grpcAuthz = new grpc.Server();
  grpcAuthz.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<any, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const user = USERS[call.request.attributes.request.http.headers.authorization];
      if (user) cb(null, { status: { code: grpc.status.OK }, ok_response: { headers: [{ header: { key: 'x-current-user', value: user } }] } });
      else cb(null, { status: { code: grpc.status.PERMISSION_DENIED }, denied_response: { status: { code: 403 } } });
    },
  });
  grpcAuthzPort = await new Promise<number>((resolve, reject) => grpcAuthz.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
});

after(async () => {
  for (const r of held) r.destroy();
  httpAuthz.closeAllConnections();
  await new Promise<void>((r) => httpAuthz.close(() => r()));
  grpcAuthz.forceShutdown();
  await upstream.close();
});



const lastSeen = () => upstream.seen[upstream.seen.length - 1];



const apiKeys = `---
apiVersion: v1
kind: Secret
metadata: { name: keys, namespace: default }
stringData:
  client1: supersecret
  hashed: "sha256:${createHash('sha256').update('hashed-key').digest('hex')}"
`;

describe('attachment and precedence', () => {
  const gatewayPolicy = policyYaml('SecurityPolicy', 'gateway-wide', 'Gateway/eg', `authorization:
  defaultAction: Deny`);
  const routePolicy = policyYaml('SecurityPolicy', 'route-keys', 'HTTPRoute/backend', `apiKeyAuth:
  credentialRefs: [{ name: keys }]
  extractFrom: [{ headers: [x-api-key] }, { params: [api_key] }]
  forwardClientIDHeader: x-client-id
  sanitize: true`);
  test('the route-level policy replaces the Gateway-level one entirely; the Gateway policy says Overridden', async () => {
    await withEgGateway(upstream.port, apiKeys + gatewayPolicy + routePolicy, async (port, gw) => {
      // Not the Gateway's deny-all: the route's API key policy alone decides.
      const ok = await request(port, '/', { 'x-api-key': 'supersecret', 'x-client-id': 'forged' });
      assert.equal(ok.status, 200);
      assert.equal(lastSeen().headers['x-client-id'], 'client1', 'the client id, never the forged copy');
      assert.equal(lastSeen().headers['x-api-key'], undefined, 'sanitize removed the key');
      assert.equal((await request(port, '/?api_key=hashed-key')).status, 200, 'sha256: keys, from a query parameter');
      assert.doesNotMatch(lastSeen().url, /api_key/);
      assert.equal((await request(port, '/', { 'x-client-id': 'client1' })).status, 401);
      const st = await statusOf(gw, 'SecurityPolicy/default/gateway-wide');
      assert.match(JSON.stringify(st), /Overridden/);
      assert.match(JSON.stringify(st), /SecurityPolicy\/default\/route-keys/);
      const cfg = JSON.stringify(await (await fetch(`${gw.adminUrl}/config`)).json());
      assert.doesNotMatch(cfg, /supersecret/, 'no key in /config');
    });
  });
  test('without the route policy the Gateway policy applies (403 RBAC)', async () => {
    await withEgGateway(upstream.port, apiKeys + gatewayPolicy, async (port) => {
      assert.equal((await request(port, '/')).status, 403);
    });
  });
  test('oidc is not served yet: its routes answer 500 and the status says why', async () => {
    const yaml = policyYaml('SecurityPolicy', 'oidc-example', 'HTTPRoute/backend', `oidc:
  provider: { issuer: "https://accounts.google.com" }
  clientID: "x"
  clientSecret: { name: "s" }`);
    await withEgGateway(upstream.port, yaml, async (port, gw) => {
      assert.equal((await request(port, '/')).status, 500);
      assert.match(JSON.stringify(await statusOf(gw, 'SecurityPolicy/default/oidc-example')), /oidc is not served yet/);
    });
  });
  test('a targetRef into another namespace is refused (TargetNotFound), the route stays as it was', async () => {
    const yaml = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: SecurityPolicy
metadata: { name: elsewhere, namespace: other }
spec:
  targetRef: { group: gateway.networking.k8s.io, kind: HTTPRoute, name: backend, namespace: default }
  authorization: { defaultAction: Deny }
`;
    await withEgGateway(upstream.port, yaml, async (port, gw) => {
      assert.equal((await request(port, '/')).status, 200);
      const st = await statusOf(gw, 'SecurityPolicy/other/elsewhere');
      assert.equal(st.accepted, false);
      assert.match(JSON.stringify(st), /only target resources in its own namespace/);
    });
  });
  test('any-of authentication (spec.portcullis): an API key or basic credentials, each checked by its own method', async () => {
    const yaml = `---
apiVersion: v1
kind: Secret
metadata: { name: users, namespace: default }
stringData:
  .htpasswd: "foo:{SHA}Ys23Ag/5IOWqZCw9QGaVDdHwH00="
${policyYaml('SecurityPolicy', 'any-of', 'HTTPRoute/backend', `apiKeyAuth:
  credentialRefs: [{ name: keys }]
  extractFrom: [{ headers: [x-api-key] }]
basicAuth:
  users: { name: users }
  forwardUsernameHeader: x-user
portcullis:
  authentication: { mode: AnyOf }`)}`;
    await withEgGateway(upstream.port, apiKeys + yaml, async (port) => {
      assert.equal((await request(port, '/', { 'x-api-key': 'supersecret' })).status, 200);
      assert.equal((await request(port, '/', { authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}`, 'x-user': 'admin' })).status, 200);
      assert.equal(lastSeen().headers['x-user'], 'foo');
      assert.equal((await request(port, '/', { 'x-api-key': 'wrong' })).status, 401);
      const none = await request(port, '/', { 'x-user': 'admin' });
      assert.equal(none.status, 401);
      assert.match(String(none.headers['www-authenticate']), /^Basic realm=/);
    });
  });
});

describe('External Authorization task', () => {
  const route = egRouteYaml('myapp', '/myapp');
  const services = () => serviceYaml('http-ext-auth', [{ port: httpAuthzPort }], 9002) + serviceYaml('grpc-ext-auth', [{ port: grpcAuthzPort }], 9002);
  /** The task's SecurityPolicy on HTTPRoute myapp, authorizing over `protocol` by Service <protocol>-ext-auth. */
  const extAuthPolicy = (protocol: 'http' | 'grpc', extra = '') => policyYaml('SecurityPolicy', 'ext-auth-example', 'HTTPRoute/myapp', `extAuth:
  ${protocol}:
    backendRefs:
      - name: ${protocol}-ext-auth
        port: 9002
${extra}`);
  const httpPolicy = extAuthPolicy('http', '    headersToBackend: ["x-current-user"]');
  const grpcPolicy = extAuthPolicy('grpc');
  test('HTTP: 403 without credentials; Bearer token1 reaches the backend with x-current-user', async () => {
    await withEgGateway(upstream.port, route + services() + httpPolicy, async (port) => {
      assert.equal((await request(port, '/myapp')).status, 403);
      const ok = await request(port, '/myapp', { authorization: 'Bearer token1', 'x-current-user': 'forged' });
      assert.equal(ok.status, 200);
      assert.equal(lastSeen().headers['x-current-user'], 'user1');
    });
  });
  test('HTTP: an authorizer that hangs is cut at the timeout: 403, or through with failOpen', async () => {
    const withTimeout = httpPolicy.replace('  extAuth:\n', '  extAuth:\n    timeout: 300ms\n');
    await withEgGateway(upstream.port, route + services() + withTimeout, async (port) => {
      const t0 = Date.now();
      assert.equal((await request(port, '/myapp/hang', { authorization: 'Bearer token1' })).status, 403);
      assert.ok(Date.now() - t0 < 4000);
    });
    await withEgGateway(upstream.port, route + services() + withTimeout.replace('    timeout: 300ms\n', '    timeout: 300ms\n    failOpen: true\n'), async (port) => {
      assert.equal((await request(port, '/myapp/hang')).status, 200);
    });
  });
  test('gRPC: 403 without credentials; Bearer token1 allowed with x-current-user', async () => {
    await withEgGateway(upstream.port, route + services() + grpcPolicy, async (port) => {
      assert.equal((await request(port, '/myapp')).status, 403);
      assert.equal((await request(port, '/myapp', { authorization: 'Bearer token1' })).status, 200);
      assert.equal(lastSeen().headers['x-current-user'], 'user1');
    });
  });
});

describe('Mutual TLS task: ClientTrafficPolicy tls.clientValidation', () => {
  test('a client certificate from the CA is required; without one the handshake is refused', async () => {
    const ca = await makeCa({ commonName: 'example.com' });
    const server = await issueServerCert(ca, { hostnames: ['www.example.com'] });
    const client = await issueClientCert(ca, { commonName: 'client.example.com' });
    const other = await issueClientCert(await makeCa({ commonName: 'other' }), { commonName: 'intruder' });
    const port = await freePort();
    const b64 = (s: string) => Buffer.from(s).toString('base64');
    const yaml = egQuickstart(port, upstream.port).replace(`- { name: http, protocol: HTTP, port: ${port} }`, `- name: https
      protocol: HTTPS
      port: ${port}
      tls:
        mode: Terminate
        certificateRefs:
          - kind: Secret
            group: ""
            name: example-cert`) + `---
apiVersion: v1
kind: Secret
type: kubernetes.io/tls
metadata: { name: example-cert, namespace: default }
data: { tls.crt: ${b64(server.certPem)}, tls.key: ${b64(server.keyPem)} }
---
apiVersion: v1
kind: Secret
metadata: { name: example-ca-cert, namespace: default }
data: { ca.crt: ${b64(ca.certPem)} }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: enable-mtls
  namespace: default
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: eg
  tls:
    clientValidation:
      caCertificateRefs:
        - kind: "Secret"
          group: ""
          name: "example-ca-cert"
`;
    const gw = await startGateway(yaml);
    try {
      const get = (cert?: { certPem: string; keyPem: string }) =>
        new Promise<number>((resolve, reject) => {
          const req = https.request({ host: '127.0.0.1', port, path: '/', servername: 'www.example.com', headers: { host: 'www.example.com' }, ca: ca.certPem, cert: cert?.certPem, key: cert?.keyPem, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.on('error', reject);
          req.end();
        });
      assert.equal(await get(client), 200);
      await assert.rejects(get());
      await assert.rejects(get(other));
    } finally {
      await gw.close();
    }
  });
});
