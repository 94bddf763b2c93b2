// BackendTrafficPolicy responseOverride over real sockets: Envoy Gateway's
// "Response Override" task as written (an inline body for 404, a ConfigMap
// body for 500 and 501-511), a statusCode override, and the same rules on the
// gateway's own answers (401 basic auth, 403 authorization, 429 rate limit,
// 503 no healthy upstream), with bad references reported, never a crash.
// (Invalid ranges are refused at load time: test/backend-traffic-policy.test.ts.)
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { egRequest, egRouteYaml, statusOf, withEgGateway } from './helpers/eg-quickstart.ts';
import { policyYaml } from './helpers/yaml.ts';

let upstream: Upstream;
before(async () => {
  upstream = await startUpstream('backend');
});
after(() => upstream?.close());

// The task page's policy and ConfigMap, as written.
const TASK = `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata:
  name: response-override
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: HTTPRoute
    name: backend
  responseOverride:
    - match:
        statusCodes:
          - type: Value
            value: 404
      response:
        contentType: text/plain
        body:
          type: Inline
          inline: "Oops! Your request is not found."
    - match:
        statusCodes:
          - type: Value
            value: 500
          - type: Range
            range:
              start: 501
              end: 511
      response:
        contentType: application/json
        body:
          type: ValueRef
          valueRef:
            group: ""
            kind: ConfigMap
            name: response-override-config
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: response-override-config
data:
  response.body: '{"error": "Internal Server Error"}'
`;

test('the task page: 404 gets the inline body, 500 and 503 the ConfigMap body, 200 and 400 pass untouched', async () => {
  await withEgGateway(upstream.port, TASK, async (port) => {
    const nf = await egRequest(port, '/status/404');
    assert.equal(nf.status, 404);
    assert.equal(nf.body, 'Oops! Your request is not found.');
    assert.equal(nf.headers['content-type'], 'text/plain');
    for (const s of [500, 503, 511]) {
      const r = await egRequest(port, `/status/${s}`);
      assert.equal(r.status, s);
      assert.equal(r.body, '{"error": "Internal Server Error"}');
      assert.equal(r.headers['content-type'], 'application/json');
    }
    const ok = await egRequest(port, '/get');
    assert.equal(ok.status, 200);
    assert.equal(JSON.parse(ok.body).backend, 'backend');
    const bad = await egRequest(port, '/status/400');
    assert.equal(bad.status, 400);
    assert.equal(JSON.parse(bad.body).url, '/status/400', "the backend's own body");
    // The connection the replaced answer came on is not reused half read: the next request is fine.
    assert.equal((await egRequest(port, '/get')).status, 200);
  });
});

const sha = `{SHA}${createHash('sha1').update('bar').digest('base64')}`;
const gatewayOwn = (route: string, extra: string) => egRouteYaml(route, `/${route}`) +
    policyYaml('BackendTrafficPolicy', route, `HTTPRoute/${route}`, `responseOverride:
  - match: { statusCodes: [{ type: Range, range: { start: 400, end: 599 } }] }
    response:
      contentType: application/json
      body: { type: Inline, inline: '{"branded": true}' }`) +
    extra;

test("the gateway's own answers get the override too: 401, 403, 429 (Retry-After kept), 503", async () => {
  const extra = gatewayOwn('limited', `  rateLimit:
    type: Local
    local: { rules: [{ limit: { requests: 1, unit: Hour } }] }
`) + gatewayOwn('basic', '') + `---
apiVersion: v1
kind: Secret
metadata: { name: basic-auth, namespace: default }
stringData:
  .htpasswd: "foo:${sha}"
${policyYaml('SecurityPolicy', 'basic', 'HTTPRoute/basic', `basicAuth: { users: { name: basic-auth } }`)}` + gatewayOwn('denied', '') + policyYaml('SecurityPolicy', 'denied', 'HTTPRoute/denied', `authorization: { defaultAction: Deny }`) + gatewayOwn('empty', '').replace('backendRefs: [{ name: backend, port: 3000 }]', 'backendRefs: [{ name: nobody, port: 3000 }]') + `---
apiVersion: v1
kind: Service
metadata: { name: nobody, namespace: default }
spec: { ports: [{ name: http, port: 3000 }] }
`;
  await withEgGateway(upstream.port, extra, async (port) => {
    assert.equal((await egRequest(port, '/limited')).status, 200);
    const limited = await egRequest(port, '/limited');
    assert.equal(limited.status, 429);
    assert.equal(limited.body, '{"branded": true}');
    assert.equal(limited.headers['content-type'], 'application/json');
    assert.ok(Number(limited.headers['retry-after']) > 0, 'the rate-limit headers stay');
    const basic = await egRequest(port, '/basic');
    assert.equal(basic.status, 401);
    assert.equal(basic.body, '{"branded": true}');
    assert.match(String(basic.headers['www-authenticate']), /^Basic /);
    assert.equal((await egRequest(port, '/basic', { authorization: `Basic ${Buffer.from('foo:bar').toString('base64')}` })).status, 200);
    const denied = await egRequest(port, '/denied');
    assert.equal(denied.status, 403);
    assert.equal(denied.body, '{"branded": true}');
    const empty = await egRequest(port, '/empty');
    assert.equal(empty.status, 503);
    assert.equal(empty.body, '{"branded": true}');
    // A route without the policy keeps the gateway's plain answers.
    assert.equal((await egRequest(port, '/status/404')).body.includes('"url":"/status/404"'), true);
  });
});

test('statusCode: the answer gets the rule status (with its body, or alone keeping the backend body)', async () => {
  const extra = policyYaml('BackendTrafficPolicy', 'codes', 'HTTPRoute/backend', `responseOverride:
  - match: { statusCodes: [{ value: 410 }] }
    response: { body: { inline: gone for good }, statusCode: 404 }
  - match: { statusCodes: [{ value: 418 }] }
    response: { statusCode: 200 }`);
  await withEgGateway(upstream.port, extra, async (port) => {
    const gone = await egRequest(port, '/status/410');
    assert.equal(gone.status, 404);
    assert.equal(gone.body, 'gone for good');
    const tea = await egRequest(port, '/status/418');
    assert.equal(tea.status, 200);
    assert.equal(JSON.parse(tea.body).url, '/status/418');
  });
});

test('a valueRef to a missing ConfigMap: the policy status says so, that rule is left out, the others serve', async () => {
  const extra = TASK.replace(/---\napiVersion: v1\nkind: ConfigMap[\s\S]*$/, '');
  await withEgGateway(upstream.port, extra, async (port, gw) => {
    const st = await statusOf(gw, 'BackendTrafficPolicy/default/response-override');
    const c = st.conditions.find((x: { type: string }) => x.type === 'ResolvedRefs');
    assert.equal(c?.status, 'False');
    assert.match(c.message, /responseOverride\[1\]: ConfigMap default\/response-override-config not found; that rule is not applied/);
    assert.equal((await egRequest(port, '/status/404')).body, 'Oops! Your request is not found.');
    const r = await egRequest(port, '/status/500');
    assert.equal(r.status, 500);
    assert.equal(JSON.parse(r.body).url, '/status/500', 'unchanged');
  });
});
