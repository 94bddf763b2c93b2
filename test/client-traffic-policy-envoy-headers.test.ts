// ClientTrafficPolicy headers.enableEnvoyHeaders and headers.disableRateLimitHeaders
// over real sockets: Gateway eg with listener "http" (the policy's target) and
// listener "other" (no policy), the same routes on both, a real upstream that
// reports what it received.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egRequest, egRouteYaml, statusOf, type Answer } from './helpers/eg-quickstart.ts';
import { gatewayDoc, httpListener, policyYaml, routePolicyYaml, routeYaml, serviceYaml } from './helpers/yaml.ts';

let backend: Upstream;
let gw: TestGateway;
let port = 0;
let other = 0;

const ROUTES = egRouteYaml('backend', '/') +
  // A rewritten path and a request timeout: what x-envoy-original-path and x-envoy-expected-rq-timeout-ms report.
  routeYaml('rewritten', `- matches: [{ path: { type: PathPrefix, value: /old } }]
  filters: [{ type: URLRewrite, urlRewrite: { path: { type: ReplacePrefixMatch, replacePrefixMatch: /new } } }]
  timeouts: { request: 5s }
  backendRefs: [{ name: backend, port: 3000 }]`, { parent: 'eg', hostnames: ['www.example.com'] }) +
  egRouteYaml('limited', '/limited') +
  // One request per hour for each x-user: every case has its own bucket.
  routePolicyYaml('limited', `rateLimit:
  type: Local
  local:
    rules:
    - clientSelectors: [{ headers: [{ name: x-user, type: Distinct }] }]
      limit: { requests: 1, unit: Hour }`);

function config(ctpHeaders: string): string {
  return gatewayDoc([httpListener(port, 'http'), httpListener(other, 'other')], { name: 'eg', className: 'eg' }) +
    serviceYaml('backend', [{ port: backend.port }]) + ROUTES +
    policyYaml('ClientTrafficPolicy', 'envoy-headers', 'Gateway/eg/http', `headers:\n${ctpHeaders}`);
}

async function serve(ctpHeaders: string): Promise<void> {
  await gw.write(config(ctpHeaders));
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

/** What the upstream received for an answer it gave (its JSON echo). */
function echoed(a: Answer): { url: string; headers: Record<string, string> } {
  assert.equal(a.status, 200, a.body);
  return JSON.parse(a.body);
}

before(async () => {
  backend = await startUpstream('backend');
  port = await freePort();
  other = await freePort();
  gw = await startGateway(config('  enableEnvoyHeaders: true'));
});

after(async () => {
  await gw?.close();
  await backend?.close();
});

describe('headers.enableEnvoyHeaders', () => {
  before(() => serve('  enableEnvoyHeaders: true'));

  test('the policy is accepted with nothing named unserved', async () => {
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/envoy-headers');
    assert.equal(st.accepted, true, JSON.stringify(st));
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('an answer carries x-envoy-upstream-service-time: the upstream\'s time in whole milliseconds', async () => {
    const a = await egRequest(port, '/delay/60');
    assert.equal(a.status, 200);
    const ms = Number(a.headers['x-envoy-upstream-service-time']);
    assert.ok(Number.isInteger(ms) && ms >= 60 && ms < 5000, `x-envoy-upstream-service-time ${a.headers['x-envoy-upstream-service-time']}`);
  });

  test('upstream: x-envoy-expected-rq-timeout-ms is the route timeout, x-envoy-original-path the path before the rewrite', async () => {
    const seen = echoed(await egRequest(port, '/old/thing?q=1', { 'x-envoy-expected-rq-timeout-ms': '1' }));
    assert.equal(seen.url, '/new/thing?q=1');
    assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], '5000');
    assert.equal(seen.headers['x-envoy-original-path'], '/old/thing?q=1');
  });

  test('a client\'s own copies are removed where the gateway has nothing to say (no timeout, no rewrite)', async () => {
    const seen = echoed(await egRequest(port, '/plain', { 'x-envoy-original-path': '/forged', 'x-envoy-expected-rq-timeout-ms': '1' }));
    assert.equal(seen.url, '/plain');
    assert.equal(seen.headers['x-envoy-original-path'], undefined);
    assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], undefined);
  });

  test('a listener no policy covers adds none of them (Envoy Gateway suppresses them by default)', async () => {
    const a = await egRequest(other, '/old/thing');
    assert.equal(a.headers['x-envoy-upstream-service-time'], undefined);
    const seen = echoed(a);
    assert.equal(seen.url, '/new/thing');
    assert.equal(seen.headers['x-envoy-expected-rq-timeout-ms'], undefined);
    assert.equal(seen.headers['x-envoy-original-path'], undefined);
  });
});

describe('headers.disableRateLimitHeaders', () => {
  before(() => serve('  disableRateLimitHeaders: true'));

  const RATE_LIMIT_HEADER = /^(x-)?ratelimit-/;
  const rateLimitHeaders = (a: Answer) => Object.keys(a.headers).filter((h) => RATE_LIMIT_HEADER.test(h));

  test('the policy\'s listener: the limit holds, its answers carry no RateLimit-* / X-RateLimit-* headers', async () => {
    const first = await egRequest(port, '/limited', { 'x-user': 'silenced' });
    assert.equal(first.status, 200);
    assert.deepEqual(rateLimitHeaders(first), []);
    const second = await egRequest(port, '/limited', { 'x-user': 'silenced' });
    assert.equal(second.status, 429);
    assert.deepEqual(rateLimitHeaders(second), []);
    assert.equal(second.headers['x-envoy-ratelimited'], 'true');
    assert.ok(Number(second.headers['retry-after']) > 0, 'Retry-After stays: it is not a rate-limit header');
  });

  test('the other listener keeps them', async () => {
    const first = await egRequest(other, '/limited', { 'x-user': 'told' });
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-limit'], '1');
    assert.equal(first.headers['x-ratelimit-remaining-hour'], '0');
    const second = await egRequest(other, '/limited', { 'x-user': 'told' });
    assert.equal(second.status, 429);
    assert.equal(second.headers['ratelimit-remaining'], '0');
  });

  test('enableEnvoyHeaders is off again once the policy no longer sets it', async () => {
    const a = await egRequest(port, '/plain');
    assert.equal(a.status, 200);
    assert.equal(a.headers['x-envoy-upstream-service-time'], undefined);
  });
});
