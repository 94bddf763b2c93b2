// The attachment phase's shared pieces, through the real resources → translate
// path: target resolution (targetRefs, sectionName, targetSelectors, same
// namespace only), the one precedence order, and winners/Overridden status.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYamlResources } from '../src/resources/load.ts';
import { translate, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { ResourceIndex } from '../src/translate/index-resources.ts';
import { StatusCollector } from '../src/translate/status.ts';
import type { LoadedResource } from '../src/resources/types.ts';
import { attachingPolicy, attachWinners, buildInventory, compareByAge, comparePrecedence, type PolicyTargeting } from '../src/translate/attachment/index.ts';

const WORLD = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: apps, labels: { tier: edge } }
spec:
  listeners:
  - { name: http, protocol: HTTP, port: 80, hostname: a.test }
  - { name: admin, protocol: HTTP, port: 80, hostname: b.test }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: apps, labels: { team: shop } }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules:
  - { name: cart, matches: [{ path: { value: /cart } }] }
  - { matches: [{ path: { value: /browse } }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ops, namespace: apps }
spec:
  parentRefs: [{ name: gw, sectionName: admin }]
  rules: [{ matches: [{ path: { value: /ops } }] }]
`;

function world(policies: { name: string; namespace?: string; created?: string; spec: PolicyTargeting }[]) {
  const parsed = parseYamlResources(WORLD, 'world.yaml');
  assert.deepEqual(parsed.errors, []);
  const resources: LoadedResource[] = parsed.resources.map((r, i) => ({ ...r, seq: i }));
  const { snapshot, errors } = translate(resources, DEFAULT_TRANSLATE_OPTIONS);
  assert.deepEqual(errors, []);
  const inv = buildInventory(new ResourceIndex(resources), snapshot.listeners);
  const loaded = policies.map((p, i): LoadedResource => ({
    resource: { apiVersion: 'test.portcullis/v1', kind: 'TestPolicy', metadata: { name: p.name, namespace: p.namespace ?? 'apps', creationTimestamp: p.created }, spec: p.spec },
    seq: 100 + i,
  }));
  const status = new StatusCollector();
  const attaching = loaded.map((lr) => attachingPolicy(lr, lr.resource.spec as PolicyTargeting, inv));
  const winners = attachWinners(attaching, inv.points, { kind: 'TestPolicy', status, inventory: inv });
  const at = (route: string, rule: number | string) => {
    const p = inv.points.find((x) => x.route.name === route && (x.ruleName === rule || x.rule === rule));
    assert.ok(p, `point ${route}/${rule}`);
    return winners.get(p)?.policy.resource.resource.metadata.name;
  };
  const statusOf = (name: string, namespace = 'apps') => status.list().find((s) => s.object === `TestPolicy/${namespace}/${name}`);
  return { at, statusOf, inv };
}

const GW_REF = { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' };
const SHOP = { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'shop' };

test('most specific wins per route rule: rule > route > listener > gateway, whatever the age', () => {
  const w = world([
    { name: 'rule', created: '2030-01-01T00:00:00Z', spec: { targetRefs: [{ ...SHOP, sectionName: 'cart' }] } },
    { name: 'route', created: '2029-01-01T00:00:00Z', spec: { targetRefs: [SHOP] } },
    { name: 'listener', created: '2028-01-01T00:00:00Z', spec: { targetRefs: [{ ...GW_REF, sectionName: 'admin' }] } },
    { name: 'gateway', created: '2020-01-01T00:00:00Z', spec: { targetRefs: [GW_REF] } },
  ]);
  assert.equal(w.at('shop', 'cart'), 'rule');
  assert.equal(w.at('shop', 1), 'route');
  assert.equal(w.at('ops', 0), 'listener');
  // Overridden per ancestor, still Accepted (Envoy Gateway's status).
  const gw = w.statusOf('gateway');
  assert.ok(gw);
  assert.equal(gw.accepted, true);
  assert.deepEqual(gw.ancestors?.map((a) => a.parentRef), [{ kind: 'Gateway', namespace: 'apps', name: 'gw' }]);
  const overridden = gw.ancestors?.[0].conditions.find((c) => c.type === 'Overridden');
  assert.equal(overridden?.reason, 'Overridden');
  assert.match(overridden?.message ?? '', /HTTPRoute\/apps\/shop\/cart \(by TestPolicy\/apps\/rule\)/);
  assert.match(overridden?.message ?? '', /HTTPRoute\/apps\/ops\/0 \(by TestPolicy\/apps\/listener\)/);
  // The route policy's ancestor is the route's parentRef, with its sectionName.
  const route = w.statusOf('route');
  assert.deepEqual(route?.ancestors?.map((a) => a.parentRef), [{ kind: 'Gateway', namespace: 'apps', name: 'gw', sectionName: 'http' }]);
  assert.ok(route?.ancestors?.[0].conditions.some((c) => c.type === 'Overridden'));
  const rule = w.statusOf('rule');
  assert.deepEqual(rule?.ancestors?.[0].conditions.map((c) => `${c.type}=${c.status}`), ['Accepted=True']);
});

test('same level: the oldest wins, then namespace/name; files without timestamps: load order', () => {
  const aged = world([
    { name: 'a-newer', created: '2024-02-01T00:00:00Z', spec: { targetRefs: [SHOP] } },
    { name: 'z-older', created: '2024-01-01T00:00:00Z', spec: { targetRefs: [SHOP] } },
  ]);
  assert.equal(aged.at('shop', 'cart'), 'z-older');
  const tied = world([
    { name: 'b', created: '2024-01-01T00:00:00Z', spec: { targetRefs: [SHOP] } },
    { name: 'a', created: '2024-01-01T00:00:00Z', spec: { targetRefs: [SHOP] } },
  ]);
  assert.equal(tied.at('shop', 'cart'), 'a');
  const files = world([
    { name: 'z-first-in-file', spec: { targetRefs: [SHOP] } },
    { name: 'a-second', spec: { targetRefs: [SHOP] } },
  ]);
  assert.equal(files.at('shop', 'cart'), 'z-first-in-file');
  assert.equal(files.statusOf('a-second')?.ancestors?.[0].conditions.find((c) => c.type === 'Overridden')?.status, 'True');
});

test('the comparators agree: precedence is specificity first, then compareByAge', () => {
  const lr = (name: string, seq: number, created?: string): LoadedResource => ({ resource: { apiVersion: 'v1', kind: 'X', metadata: { name, namespace: 'n', creationTimestamp: created } }, seq });
  const old = lr('b', 9, '2020-01-01T00:00:00Z');
  const young = lr('a', 1);
  assert.ok(compareByAge(old, young) < 0, 'a timestamp is older than none');
  assert.ok(comparePrecedence({ level: 'Route', policy: young }, { level: 'Gateway', policy: old }) < 0);
  assert.ok(comparePrecedence({ level: 'Gateway', policy: old }, { level: 'Gateway', policy: young }) < 0);
  assert.ok(compareByAge(lr('b', 2, '2020-01-01T00:00:00Z'), lr('a', 3, '2020-01-01T00:00:00.000Z')) > 0, 'equal instants: name decides');
});

test('targetSelectors select by labels in the policy namespace; matchExpressions work', () => {
  const w = world([
    { name: 'by-label', spec: { targetSelectors: [{ kind: 'HTTPRoute', matchLabels: { team: 'shop' } }] } },
    { name: 'by-expr', spec: { targetSelectors: [{ kind: 'Gateway', matchExpressions: [{ key: 'tier', operator: 'In', values: ['edge'] }] }] } },
  ]);
  assert.equal(w.at('shop', 'cart'), 'by-label');
  assert.equal(w.at('ops', 0), 'by-expr');
  const other = world([{ name: 'elsewhere', namespace: 'other', spec: { targetSelectors: [{ kind: 'HTTPRoute', matchLabels: { team: 'shop' } }] } }]);
  assert.equal(other.at('shop', 'cart'), undefined);
  assert.equal(other.statusOf('elsewhere', 'other')?.accepted, false);
});

test('references to what does not exist, or to another namespace, are said in status and attach nowhere', () => {
  const w = world([
    { name: 'no-rule', spec: { targetRefs: [{ ...SHOP, sectionName: 'nope' }] } },
    { name: 'no-listener', spec: { targetRefs: [{ ...GW_REF, sectionName: 'nope' }] } },
    { name: 'cross-ns', namespace: 'other', spec: { targetRefs: [GW_REF] } },
    { name: 'half', spec: { targetRefs: [SHOP, { ...GW_REF, name: 'missing' }] } },
  ]);
  for (const name of ['no-rule', 'no-listener']) {
    const s = w.statusOf(name);
    assert.equal(s?.accepted, false);
    assert.equal(s?.conditions[0].reason, 'TargetNotFound');
  }
  assert.match(w.statusOf('no-rule')?.conditions[0].message ?? '', /no rule named nope/);
  assert.equal(w.statusOf('cross-ns', 'other')?.accepted, false, 'a Gateway in another namespace is not found');
  assert.equal(w.at('shop', 'cart'), 'half');
  const half = w.statusOf('half');
  assert.equal(half?.accepted, true);
  assert.equal(half?.conditions.find((c) => c.type === 'ResolvedRefs')?.reason, 'TargetNotFound');
});

test('an invalid policy still wins where it would (so the family can fail closed) and says Invalid per ancestor', () => {
  const parsed = parseYamlResources(WORLD, 'world.yaml');
  const resources: LoadedResource[] = parsed.resources.map((r, i) => ({ ...r, seq: i }));
  const { snapshot } = translate(resources, DEFAULT_TRANSLATE_OPTIONS);
  const inv = buildInventory(new ResourceIndex(resources), snapshot.listeners);
  const lr: LoadedResource = { resource: { apiVersion: 'test/v1', kind: 'TestPolicy', metadata: { name: 'bad', namespace: 'apps' } }, seq: 50 };
  const status = new StatusCollector();
  const p = { ...attachingPolicy(lr, { targetRefs: [SHOP] }, inv), invalid: 'Secret apps/missing not found' };
  const winners = attachWinners([p], inv.points, { kind: 'TestPolicy', status, inventory: inv });
  assert.equal([...winners.values()].filter((w) => w.policy.invalid).length, 2);
  const s = status.list()[0];
  assert.equal(s.accepted, false);
  assert.deepEqual(s.ancestors?.[0].conditions[0], { type: 'Accepted', status: 'False', reason: 'Invalid', message: 'Secret apps/missing not found' });
});
