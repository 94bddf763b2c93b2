// Istio task "Ingress Gateway Access Control" over real sockets: the allow and
// deny lists of examples/istio/authz-ingress-*.yaml, with clients connecting
// from 127.0.0.1 and 127.0.0.2 (both loopback), and forged X-Forwarded-For
// headers that must not change the answer: the gateway trusts no proxy hop yet,
// so the client address is the connection's.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { exampleYaml, send } from './helpers/istio-e2e.ts';
import { istioSelectorYaml } from './helpers/yaml.ts';

let echo: EchoServer;
let gw: TestGateway;
let port = 0;

const HOME = '127.0.0.1';
const OTHER = '127.0.0.2';

const example = (name: string) => exampleYaml(name, { 8080: port, 9081: echo.port });

async function load(yaml: string): Promise<void> {
  await gw.write(yaml);
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

const from = (localAddress: string, headers: Record<string, string> = {}) => send(port, '/headers', { localAddress, headers });

before(async () => {
  echo = await startEcho('v1');
  port = await freePort();
  gw = await startGateway(example('authz-ingress-allow.yaml'));
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

test('the policy selects the gateway by istio.io/gateway-name, as the task page writes it', async () => {
  const r = await from(OTHER);
  assert.equal(r.status, 403);
  assert.equal(r.body, 'RBAC: access denied');
});

test('allow list: the listed client address gets in, another one is refused', async () => {
  const ok = await from(HOME);
  assert.equal(ok.status, 200);
  assert.equal(ok.json().headers['x-forwarded-for'], HOME, 'the upstream learns the client address');
  assert.equal((await from(OTHER)).status, 403);
});

test('allow list: a forged X-Forwarded-For does not let an unlisted client in', async () => {
  for (const xff of [HOME, '1.2.3.4', '5.6.7.8', `1.2.3.4, ${HOME}`, `${HOME}, 1.2.3.4`]) {
    assert.equal((await from(OTHER, { 'x-forwarded-for': xff })).status, 403, xff);
  }
  for (const h of ['x-real-ip', 'forwarded', 'x-envoy-external-address', 'true-client-ip']) {
    assert.equal((await from(OTHER, { [h]: h === 'forwarded' ? `for=${HOME}` : HOME })).status, 403, h);
  }
  // The header is passed on as sent, with the real address appended.
  const r = await from(HOME, { 'x-forwarded-for': '1.2.3.4' });
  assert.equal(r.status, 200);
  assert.equal(r.json().headers['x-forwarded-for'], `1.2.3.4, ${HOME}`);
});

test("the task's first step (1.2.3.4 and 5.6.7.0/24 only): the local client is refused", async () => {
  await load(example('authz-ingress-allow.yaml').replace(', "127.0.0.1"]', ']'));
  assert.equal((await from(HOME)).status, 403);
  assert.equal((await from(HOME, { 'x-forwarded-for': '5.6.7.8' })).status, 403);
});

test('deny list: the listed address is refused, whatever X-Forwarded-For says; others get in', async () => {
  await load(example('authz-ingress-deny.yaml'));
  assert.equal((await from(HOME)).status, 403);
  assert.equal((await from(HOME, { 'x-forwarded-for': OTHER })).status, 403);
  assert.equal((await from(OTHER)).status, 200);
  assert.equal((await from(OTHER, { 'x-forwarded-for': HOME })).status, 200, 'nobody can be framed by a header either');
});

test('ipBlocks vs remoteIpBlocks on the service hop: source.ip is the gateway there, remote.ip stays the client', async () => {
  const infra = parseAllDocuments(example('authz-ingress-allow.yaml'))
    .filter((d) => (d.toJS() as { kind: string }).kind !== 'AuthorizationPolicy')
    .map((d) => d.toString())
    .join('---\n');
  const policy = (field: string, ip: string) => istioSelectorYaml('AuthorizationPolicy', 'foo/by-ip', 'app: httpbin', `rules:
- from:
  - source:
      ${field}: ["${ip}"]`);
  await load(infra + policy('remoteIpBlocks', OTHER));
  assert.equal((await from(OTHER)).status, 200);
  assert.equal((await from(HOME)).status, 403);
  await load(infra + policy('ipBlocks', OTHER));
  assert.equal((await from(OTHER)).status, 403, 'the peer of the service hop is the gateway, not the client');
  await load(infra + policy('ipBlocks', `${HOME}/32`));
  assert.equal((await from(OTHER)).status, 200, "the gateway's own address is the service hop's source.ip");
});

test('ipBlocks on the gateway hop is the connection address too; notRemoteIpBlocks excludes', async () => {
  const yaml = example('authz-ingress-allow.yaml')
    .replace('remoteIpBlocks: ["1.2.3.4", "5.6.7.0/24", "127.0.0.1"]', `ipBlocks: ["127.0.0.0/8"]\n        notRemoteIpBlocks: ["${OTHER}"]`);
  await load(yaml);
  assert.equal((await from(HOME)).status, 200);
  assert.equal((await from(OTHER)).status, 403);
  assert.equal((await from(OTHER, { 'x-forwarded-for': HOME })).status, 403);
});
