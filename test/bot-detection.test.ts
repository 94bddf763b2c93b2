// SecurityPolicy spec.portcullis.botDetection (Kong's bot-detection) over real
// sockets: the built-in list, allow over deny, no User-Agent, a policy without
// the built-in list, and RE2 validation of the patterns.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway, gatewayYaml, type TestGateway } from './helpers/gateway.ts';
import { prefixRouteYaml, policyYaml } from './helpers/yaml.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { validateResource } from '../src/resources/validate.ts';

let up: Upstream;
let gw: TestGateway;
let port: number;

const policy = (name: string, botDetection: string) => policyYaml('SecurityPolicy', name, `HTTPRoute/${name}`, `portcullis:
  botDetection: ${botDetection}`);

before(async () => {
  up = await startUpstream('up');
  port = await freePort();
  gw = await startGateway(gatewayYaml(port, { up: up.port },
    prefixRouteYaml('guarded', 'up') + policy('guarded', `{ allow: ['(?i)friendlybot'], deny: ['^EvilClient/'] }`) +
    prefixRouteYaml('custom', 'up') + policy('custom', `{ builtInRules: false, deny: ['^EvilClient/'] }`) +
    prefixRouteYaml('open', 'up')));
});

after(async () => {
  await gw?.close();
  await up?.close();
});

async function get(path: string, ua?: string): Promise<{ status: number; body: string; type: string }> {
  const res = await request(`http://127.0.0.1:${port}${path}`, { headers: ua === undefined ? {} : { 'user-agent': ua } });
  return { status: res.statusCode, body: await res.body.text(), type: String(res.headers['content-type']) };
}

test('a crawler from the built-in list gets 403, as Kong answers it; browsers, curl and no User-Agent pass', async () => {
  const bot = await get('/guarded', 'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)');
  assert.equal(bot.status, 403);
  assert.equal(bot.body, '{"message":"Forbidden"}');
  assert.match(bot.type, /^application\/json/);
  assert.equal((await get('/guarded', 'python-requests/2.32.3')).status, 403);
  assert.equal((await get('/guarded', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36')).status, 200);
  assert.equal((await get('/guarded', 'curl/8.5.0')).status, 200);
  assert.equal((await get('/guarded')).status, 200);
  // The cached verdict is the same verdict.
  assert.equal((await get('/guarded', 'python-requests/2.32.3')).status, 403);
});

test('deny adds patterns; allow wins over deny and over the built-in list', async () => {
  assert.equal((await get('/guarded', 'EvilClient/1.0')).status, 403);
  assert.equal((await get('/guarded', 'NotEvilClient/1.0')).status, 200, 'deny is anchored where the pattern says so');
  assert.equal((await get('/guarded', 'FriendlyBot crawler 1.0')).status, 200, 'allow beats the built-in "crawler"');
});

test('builtInRules: false keeps only the policy\'s own patterns; routes without the policy are untouched', async () => {
  assert.equal((await get('/custom', 'Googlebot/2.1')).status, 200);
  assert.equal((await get('/custom', 'EvilClient/2')).status, 403);
  assert.equal((await get('/open', 'Googlebot/2.1')).status, 200);
});

test('a pattern RE2 refuses is a validation error at its field path', () => {
  const issues = validateResource({
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'SecurityPolicy',
    metadata: { name: 'p', namespace: 'default' },
    spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'r' }], portcullis: { botDetection: { deny: ['ok', '(?<=x)bot'] } } },
  });
  assert.equal(issues.length, 1, JSON.stringify(issues));
  assert.deepEqual(issues[0].path, ['spec', 'portcullis', 'botDetection', 'deny', 1]);
  assert.match(issues[0].message, /RE2/);
});
