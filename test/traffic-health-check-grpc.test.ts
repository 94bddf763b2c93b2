// healthCheck.active type GRPC over real sockets: grpc.health.v1.Health/Check
// against real grpc-js servers (h2c, and TLS with a certificate made here),
// SERVING = healthy, the policy's grpc.service asked about; end to end, a
// replica that turns NOT_SERVING leaves a GRPCRoute's rotation and comes back.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { gatewayDoc, httpsListener, tlsSecretYaml } from './helpers/yaml.ts';
import { freePort } from './helpers/ports.ts';
import { untilStreak } from './helpers/requests.ts';
import { makeCa, issueServerCert, type RootCa } from './helpers/certs.ts';
import { startGrpcReplica, gatewayTlsClient, HELLO, type GrpcReplica } from './helpers/grpc-health.ts';
import { probe, activeCheckCount } from '../src/upstream/active-health.ts';
import { healthCheckRequest, servingStatus } from '../src/upstream/grpc-health-probe.ts';
import type { IRActiveHealth } from '../src/ir/traffic.ts';
import type { IRBackend } from '../src/ir/types.ts';

const HOST = 'grpc.example.com';
let ca: RootCa;
let v1: GrpcReplica;
let v2: GrpcReplica;
let secure: GrpcReplica;
let gw: TestGateway;
let client: grpc.Client;

const check = (service: string, timeoutMs = 1000): IRActiveHealth => ({ type: 'GRPC', timeoutMs, intervalMs: 1000, initialJitterMs: 0, unhealthyThreshold: 1, healthyThreshold: 1, grpc: { service } });
const plain: IRBackend = { id: 'b', source: 'b', labels: {}, namespace: 'default', endpoints: [], protocol: 'h2' };
const ep = (port: number) => ({ host: '127.0.0.1', port, ready: true });

before(async () => {
  ca = await makeCa();
  const [gwCert, beCert] = await Promise.all([issueServerCert(ca, { hostnames: [HOST] }), issueServerCert(ca, { hostnames: ['health.internal'] })]);
  [v1, v2, secure] = await Promise.all([startGrpcReplica('v1'), startGrpcReplica('v2'), startGrpcReplica('secure', beCert)]);
  for (const r of [v1, v2]) r.status.set('demo.v1.Greeter', 'SERVING');
  const tlsPort = await freePort();
  gw = await startGateway(`${gatewayDoc([httpsListener('https', tlsPort)])}${tlsSecretYaml('cert', gwCert)}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: greeters, namespace: default }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: ${v1.port} } }, { ip: { address: 127.0.0.1, port: ${v2.port} } }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: GRPCRoute
metadata: { name: greeter, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [${HOST}]
  rules: [{ backendRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: greeters }] }]
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: grpc-health, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: GRPCRoute, name: greeter }]
  loadBalancer: { type: RoundRobin }
  healthCheck:
    active:
      type: GRPC
      grpc: { service: demo.v1.Greeter }
      interval: 100ms
      timeout: 500ms
      unhealthyThreshold: 2
      healthyThreshold: 1
`);
  client = gatewayTlsClient(tlsPort, ca.certPem, HOST);
});

after(async () => {
  client?.close();
  await gw?.close();
  for (const r of [v1, v2, secure]) r?.close();
});

test('the two messages: a HealthCheckRequest as gRPC frames it, a HealthCheckResponse read back', () => {
  assert.deepEqual(healthCheckRequest(''), Buffer.from([0, 0, 0, 0, 0]));
  assert.deepEqual(healthCheckRequest('a.B'), Buffer.from([0, 0, 0, 0, 5, 0x0a, 3, 0x61, 0x2e, 0x42]));
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 1])), 1);
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 2, 0x08, 2])), 2);
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 0])), 0, 'proto3: status left out is UNKNOWN');
  assert.equal(servingStatus(Buffer.from([0, 0, 0, 0, 3, 0x08, 1])), undefined, 'a truncated message');
  assert.equal(servingStatus(Buffer.from([1, 0, 0, 0, 2, 0x08, 1])), undefined, 'a compressed message is not asked for');
});

test('a probe is healthy when Check answers SERVING, for the service the policy names', async () => {
  const before = v1.checks.length;
  assert.equal(await probe(check(''), plain, ep(v1.port)), true, 'the server as a whole');
  assert.equal(await probe(check('demo.v1.Greeter'), plain, ep(v1.port)), true);
  // (The gateway's own checker asks v1 about demo.v1.Greeter meanwhile; only this probe asks about '').
  assert.ok(v1.checks.slice(before).includes(''), 'grpc.service is the name asked about');
  v1.status.set('demo.v1.Other', 'NOT_SERVING');
  assert.equal(await probe(check('demo.v1.Other'), plain, ep(v1.port)), false, 'NOT_SERVING');
  v1.status.set('demo.v1.Other', 'UNKNOWN');
  assert.equal(await probe(check('demo.v1.Other'), plain, ep(v1.port)), false, 'UNKNOWN is not SERVING');
  v1.status.delete('demo.v1.Other');
  assert.equal(await probe(check('demo.v1.Nope'), plain, ep(v1.port)), false, 'NOT_FOUND (a trailers-only answer)');
  assert.equal(await probe(check(''), plain, ep(await freePort())), false, 'nothing listening');
});

test('over TLS (ALPN h2) with the backend\'s CA and SNI; a certificate it cannot verify fails the probe', async () => {
  const tls: IRBackend = { ...plain, tls: { sni: 'health.internal', caPem: ca.certPem } };
  assert.equal(await probe(check(''), tls, ep(secure.port)), true);
  assert.equal(await probe(check(''), { ...plain, tls: { sni: 'health.internal' } }, ep(secure.port)), false, 'not trusted');
  assert.equal(await probe(check(''), plain, ep(secure.port)), false, 'h2c to a TLS port');
});

test('a probe that gets no answer fails at its timeout', async () => {
  const net = await import('node:net');
  const silent = net.createServer(() => {});
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', () => r()));
  try {
    const t0 = Date.now();
    assert.equal(await probe(check('', 200), plain, ep((silent.address() as { port: number }).port)), false);
    assert.ok(Date.now() - t0 < 1000);
  } finally {
    silent.close();
  }
});

function hello(): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(HELLO.path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from('hi'), (err, r) => (err ? reject(err) : resolve(r!.toString().split(':')[0])));
  });
}


test('through the gateway: a replica NOT_SERVING for grpc.service leaves the GRPCRoute\'s rotation, SERVING brings it back', async () => {
  const status = await (await fetch(`${gw.adminUrl}/status`)).text();
  assert.doesNotMatch(status, /UnsupportedFields/, 'type GRPC is served, not only validated');
  assert.ok(activeCheckCount() >= 1);
  await untilStreak('both replicas answer', 5000, 1, async () => new Set(await Promise.all([hello(), hello(), hello(), hello()])).size === 2);
  v2.status.set('demo.v1.Greeter', 'NOT_SERVING');
  v2.status.set('', 'SERVING'); // the server as a whole still is: the named service is what counts
  await untilStreak('v2 out of rotation', 5000, 6, async () => (await hello()) === 'v1');
  v2.status.set('demo.v1.Greeter', 'SERVING');
  await untilStreak('v2 back', 5000, 1, async () => (await hello()) === 'v2');
});
