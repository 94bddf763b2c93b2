// BackendTrafficPolicy as a resource: validation of bad input (one clear
// issue at the field) and what its status says after translate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { validateResource } from '../src/resources/validate.ts';
import { translate, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { parseYamlResources } from '../src/resources/load.ts';
import { policyYaml } from './helpers/yaml.ts';

function loadText(text: string) {
  const parsed = parseYamlResources(text, 'test.yaml');
  assert.deepEqual(parsed.errors, []);
  return parsed.resources.map((r, i) => ({ ...r, seq: i }));
}

const policy = (spec: unknown) => ({ apiVersion: 'gateway.envoyproxy.io/v1alpha1', kind: 'BackendTrafficPolicy', metadata: { name: 'p', namespace: 'default' }, spec });
const target = [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'r' }];
const local = (rule: unknown) => ({ targetRefs: target, rateLimit: { type: 'Local', local: { rules: [rule] } } });

test('bad input gets one issue at the field it is about', () => {
  const cases: [unknown, (string | number)[], RegExp][] = [
    [{ rateLimit: { type: 'Local' } }, ['spec'], /targetRef, targetRefs or targetSelectors/],
    [local({ limit: { requests: 3, unit: 'Week' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'limit', 'unit'], /Second/],
    [local({ clientSelectors: [{ headers: [{ type: 'Distinct', name: 'x', value: 'v' }] }], limit: { requests: 1, unit: 'Hour' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'clientSelectors', 0, 'headers', 0, 'value'], /must not be set/],
    [local({ clientSelectors: [{ headers: [{ name: 'x' }] }], limit: { requests: 1, unit: 'Hour' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'clientSelectors', 0, 'headers', 0, 'value'], /required/],
    [local({ clientSelectors: [{ headers: [{ type: 'RegularExpression', name: 'x', value: '(' }] }], limit: { requests: 1, unit: 'Hour' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'clientSelectors', 0, 'headers', 0, 'value'], /regular expression/],
    [local({ clientSelectors: [{ sourceCIDR: { value: '10.0.0.0/40' } }], limit: { requests: 1, unit: 'Hour' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'clientSelectors', 0, 'sourceCIDR', 'value'], /prefix/],
    [local({ clientSelectors: [{}], limit: { requests: 1, unit: 'Hour' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'clientSelectors', 0], /at least one/],
    [local({ limit: { requests: 1, unit: 'Hour' }, throttle: { maxQueue: 0, maxWait: '1s' } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'throttle', 'maxQueue'], /./],
    [local({ limit: { requests: 1, unit: 'Hour' }, cost: { request: { from: 'Metadata', metadata: { namespace: 'a', key: 'b' } } } }), ['spec', 'rateLimit', 'local', 'rules', 0, 'cost', 'request', 'from'], /Metadata/],
    [{ targetRefs: target, rateLimit: { type: 'Global' } }, ['spec', 'rateLimit'], /rateLimit.global/],
    [{ targetRefs: target, faultInjection: { abort: { percentage: 10 } } }, ['spec', 'faultInjection', 'abort'], /httpStatus/],
    [{ targetRefs: target, rateLimit: { type: 'Local', local: { rules: [] } }, bogus: 1 }, ['spec', 'bogus'], /unknown field/],
    [{ targetRefs: target, responseOverride: [{ match: { statusCodes: [{ type: 'Range', range: { start: 511, end: 501 } }] } }] }, ['spec', 'responseOverride', 0, 'match', 'statusCodes', 0, 'range'], /start must not be greater than end/],
    [{ targetRefs: target, loadBalancer: { type: 'ConsistentHash', consistentHash: { type: 'Header' } } }, ['spec', 'loadBalancer', 'consistentHash'], /header field must be set/],
    [{ targetRefs: target, loadBalancer: { type: 'ConsistentHash', consistentHash: { type: 'SourceIP', tableSize: 100 } } }, ['spec', 'loadBalancer', 'consistentHash', 'tableSize'], /prime/],
    [{ targetRefs: target, loadBalancer: { type: 'ConsistentHash' } }, ['spec', 'loadBalancer'], /consistentHash field needs to be set/],
    [{ targetRefs: target, loadBalancer: { type: 'Random', slowStart: { window: '10s' } } }, ['spec', 'loadBalancer', 'slowStart'], /RoundRobin and LeastRequest/],
    [{ targetRefs: target, healthCheck: { active: { type: 'HTTP' } } }, ['spec', 'healthCheck', 'active'], /http field needs to be set/],
  ];
  for (const [spec, path, message] of cases) {
    const issues = validateResource(policy(spec));
    assert.equal(issues.length, 1, `${JSON.stringify(spec)}: ${JSON.stringify(issues)}`);
    assert.deepEqual(issues[0].path, path, JSON.stringify(issues));
    assert.match(issues[0].message, message);
  }
});

test('status: Accepted per ancestor, Overridden where a more specific policy wins; every field is served', () => {
  const yaml = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec: { gatewayClassName: x, listeners: [{ name: http, protocol: HTTP, port: 8080 }] }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: be, namespace: default }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: 9 } }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec: { parentRefs: [{ name: gw }], rules: [{ backendRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: be }] }] }
${policyYaml('BackendTrafficPolicy', 'gw-wide', 'Gateway/gw', `rateLimit: { type: Local, local: { rules: [{ limit: { requests: 1, unit: Second } }] } }`)}${policyYaml('BackendTrafficPolicy', 'route', 'HTTPRoute/r', `rateLimit: { type: Local, local: { rules: [{ limit: { requests: 5, unit: Second } }] } }
loadBalancer: { type: Random }
useClientProtocol: true`)}`;
  const { snapshot, errors } = translate(loadText(yaml), DEFAULT_TRANSLATE_OPTIONS);
  assert.deepEqual(errors, []);
  const st = (name: string) => snapshot.status.find((s) => s.object === `BackendTrafficPolicy/default/${name}`)!;
  const gwWide = st('gw-wide');
  assert.ok(gwWide.ancestors?.some((a) => a.conditions.some((c) => c.type === 'Overridden' && c.status === 'True')), JSON.stringify(gwWide));
  const route = st('route');
  assert.ok(route.ancestors?.some((a) => a.conditions.some((c) => c.type === 'Accepted' && c.status === 'True')));
  assert.equal(route.conditions.find((c) => c.type === 'UnsupportedFields'), undefined, 'useClientProtocol and loadBalancer are served');
  assert.equal(snapshot.listeners[0].routes[0].traffic?.useClientProtocol, true);
  assert.equal(snapshot.listeners[0].routes[0].traffic?.loadBalancer?.type, 'Random');
  const filters = snapshot.listeners[0].routes[0].filters;
  assert.deepEqual(filters.map((f) => [f.type, f.origin]), [['localRateLimit', 'BackendTrafficPolicy/default/route']]);
});
