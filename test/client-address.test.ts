// Client address detection: X-Forwarded-For is trusted only as far as the
// configured number of proxies (Istio gatewayTopology.numTrustedProxies).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { request } from 'undici';
import { clientFromXff } from '../src/dataplane/decide.ts';
import { startGateway, gatewayYaml, routeTo, trustProxies, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { backendYaml, routeYaml, prefixRule, istioSelectorYaml } from './helpers/yaml.ts';

test('the Nth address from the right of X-Forwarded-For, as Envoy xff_num_trusted_hops', () => {
  const xff = '203.0.113.128, 203.0.113.10, 203.0.113.1';
  assert.equal(clientFromXff(xff, 1, '192.0.2.5'), '203.0.113.1');
  assert.equal(clientFromXff(xff, 2, '192.0.2.5'), '203.0.113.10');
  assert.equal(clientFromXff(xff, 3, '192.0.2.5'), '203.0.113.128');
  assert.equal(clientFromXff(xff, 4, '192.0.2.5'), '192.0.2.5', 'fewer entries than trusted hops: the peer');
  assert.equal(clientFromXff(undefined, 1, '192.0.2.5'), '192.0.2.5');
  assert.equal(clientFromXff('not-an-ip', 1, '192.0.2.5'), '192.0.2.5', 'garbage never becomes the client address');
  assert.equal(clientFromXff('::ffff:198.51.100.7', 1, '192.0.2.5'), '198.51.100.7');
});

let gw: TestGateway;
let up: Upstream;
let dest: Upstream;
let port: number;

before(async () => {
  [up, dest] = await Promise.all([startUpstream('up'), startUpstream('dest')]);
  port = await freePort();
  const yaml = gatewayYaml(port, { up: up.port }, routeTo('up') + backendYaml('dest', [dest.port], '', { app: 'dest' }) +
    routeYaml('dest', prefixRule('/dest', 'dest')) +
    // A policy that selects the backend: the request crosses the destination hop too.
    istioSelectorYaml('AuthorizationPolicy', 'default/dest-policy', 'app: dest', `action: ALLOW
rules: [{ to: [{ operation: { methods: [GET] } }] }]`) + trustProxies(1) +
    istioSelectorYaml('AuthorizationPolicy', 'default/ingress-policy', 'gateway.networking.k8s.io/gateway-name: gw', `action: ALLOW
rules: [{ from: [{ source: { remoteIpBlocks: ["198.51.100.0/24"] } }] }]`));
  gw = await startGateway(yaml);
});

after(async () => {
  await gw?.close();
  await up?.close();
  await dest?.close();
});

async function status(xff?: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${port}/`, { headers: xff ? { 'x-forwarded-for': xff } : {} });
  await r.body.dump();
  return r.statusCode;
}

test('remoteIpBlocks sees the client named by the one trusted proxy', async () => {
  assert.equal(await status('198.51.100.7'), 200);
  assert.equal(await status('198.51.100.7, 203.0.113.9'), 403, 'the trusted proxy says the client is 203.0.113.9');
  assert.equal(await status(), 403, 'no X-Forwarded-For: the peer (127.0.0.1) is the client');
});

test('upstream sees the client in X-Forwarded-For whether or not a policy selects the backend (destination hop)', async () => {
  // The client connects from 127.0.0.2 to the gateway's 127.0.0.1, so that the
  // gateway's own address cannot pass for the client's.
  const xffAt = (path: string, xff: string) =>
    new Promise<string>((resolve, reject) => {
      const req = http.get({ host: '127.0.0.1', port, path, localAddress: '127.0.0.2', agent: false, headers: { 'x-forwarded-for': xff } }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (text += d));
        res.on('end', () => {
          if (res.statusCode !== 200) return reject(new Error(`${path}: ${res.statusCode} ${text}`));
          resolve((JSON.parse(text) as { headers: Record<string, string> }).headers['x-forwarded-for']);
        });
      });
      req.on('error', reject);
    });
  assert.equal(await xffAt('/plain', '198.51.100.7'), '198.51.100.7, 127.0.0.2');
  assert.equal(await xffAt('/dest/x', '198.51.100.7'), '198.51.100.7, 127.0.0.2', 'the destination hop does not change what upstream is told');
});
