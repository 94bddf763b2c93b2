// decide(snapshot, request): the one decision the listener, explain and tests
// share. explain used to re-implement it and skipped X-Forwarded-For: with one
// trusted proxy and an ALLOW on remoteIpBlocks, the gateway let a request in
// that explain said was 403.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, gatewayYaml, routeTo, trustProxies, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { send } from './helpers/istio-e2e.ts';
import { explain, parseRequestLine } from '../src/cli/explain.ts';
import { buildFromPaths } from '../src/config/pipeline.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { compileSnapshot, type CompiledSnapshot } from '../src/dataplane/compile.ts';
import { decide, DecidedRequest, type RequestFacts } from '../src/dataplane/decide.ts';
import { PoolRegistry } from '../src/upstream/pools.ts';
import { istioSelectorYaml } from './helpers/yaml.ts';

let gw: TestGateway;
let up: Upstream;
let port: number;
let snap: CompiledSnapshot;
const pools = new PoolRegistry();

before(async () => {
  up = await startUpstream('up');
  port = await freePort();
  gw = await startGateway(gatewayYaml(port, { up: up.port }, routeTo('up') + trustProxies(1) +
    istioSelectorYaml('AuthorizationPolicy', 'default/internal-only', 'gateway.networking.k8s.io/gateway-name: gw', `action: ALLOW
rules: [{ from: [{ source: { remoteIpBlocks: ["10.0.0.0/8"] } }], to: [{ operation: { paths: ["/internal/*"] } }] }, { to: [{ operation: { paths: ["/open"] } }] }]`)));
  const built = await buildFromPaths([gw.file], { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' });
  assert.ok(built.snapshot, JSON.stringify(built.errors));
  snap = await compileSnapshot(built.snapshot, pools);
});

after(async () => {
  snap?.close();
  await pools.closeAll();
  await gw?.close();
  await up?.close();
});

async function explained(line: string): Promise<string> {
  const out = await explain([gw.file], parseRequestLine(line), { sourceIp: '127.0.0.1', rootNamespace: 'istio-system' });
  return /^answer: (.*)$/m.exec(out.text)?.[1] ?? out.text;
}

test('behind one trusted proxy, explain and the gateway agree on X-Forwarded-For', async () => {
  const inside = await send(port, '/internal/x', { headers: { 'x-forwarded-for': '10.1.2.3' } });
  assert.equal(inside.status, 200, 'the gateway trusts one proxy: the client is 10.1.2.3');
  assert.match(await explained(`GET http://localhost:${port}/internal/x -H "X-Forwarded-For: 10.1.2.3"`), /^proxied to /);
  const outside = await send(port, '/internal/x', { headers: { 'x-forwarded-for': '10.1.2.3, 192.0.2.7' } });
  assert.equal(outside.status, 403, 'the trusted proxy says the client is 192.0.2.7');
  assert.match(await explained(`GET http://localhost:${port}/internal/x -H "X-Forwarded-For: 10.1.2.3, 192.0.2.7"`), /^403 /);
  assert.equal((await send(port, '/internal/x')).status, 403, 'no header: the peer 127.0.0.1 is the client');
  assert.match(await explained(`GET http://localhost:${port}/internal/x`), /^403 /);
});

function facts(target: string, headers: Record<string, string> = {}): RequestFacts {
  return { method: 'GET', target, headers: { host: 'localhost', ...headers }, port, scheme: 'http', remoteIp: '127.0.0.1', localIp: '127.0.0.1', tls: undefined, tracing: false };
}

test('decide() is transport-free and synchronous on a synchronous chain', () => {
  const d = decide(snap, facts('/internal/a/../b', { 'x-forwarded-for': '10.9.9.9' }));
  assert.ok(d instanceof DecidedRequest, 'no Promise when no filter needs I/O');
  assert.equal(d.path, '/internal/b', 'normalized before routing and authorization');
  assert.equal(d.clientIp, '10.9.9.9');
  assert.equal(d.answer, undefined, 'allowed: no answer, the request goes to the backend');
  assert.equal(d.backend?.cluster?.id.startsWith('Backend/default/up'), true);
  assert.equal(d.route?.ir.route.name, 'r');
  const denied = decide(snap, facts('/internal/b')) as DecidedRequest;
  assert.equal(denied.answer?.status, 403);
  assert.equal(denied.answer?.body, 'RBAC: access denied');
  assert.equal(denied.trace?.[0]?.decision, 'deny', 'a denial is always traced');
  assert.equal((decide(snap, facts('/x', { host: '[localhost]' })) as DecidedRequest).answer?.status, 400);
  assert.equal((decide(snap, facts('/%zz')) as DecidedRequest).answer?.status, 400);
  assert.equal(decide(snap, { ...facts('/open'), port: port + 1 }), undefined, 'no listener on that port');
  const named = (host: string) => decide(snap, facts('/open', { host })) as DecidedRequest;
  assert.deepEqual([named('LocalHost:8080').authority, named('LocalHost:8080').host, named('LocalHost:8080').authorityPort], ['localhost:8080', 'localhost', 8080]);
  assert.deepEqual([named('[::1]:81').host, named('[::1]:81').authorityPort], ['::1', 81]);
  assert.deepEqual([named('[::1]').host, named('[::1]').authorityPort, named('localhost').authorityPort], ['::1', undefined, undefined]);
});
