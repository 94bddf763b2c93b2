// Which AuthorizationPolicies (and their sibling kinds) apply to a hop.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import type { LoadedResource } from '../src/resources/types.ts';
import { selectIstioPolicies, validatePolicyTargeting, type PolicyHop } from '../src/translate/istio/select.ts';

function load(text: string): LoadedResource[] {
  return parseAllDocuments(text).map((d, i) => ({ resource: d.toJS(), seq: i }));
}

/** The policies every test selects from: name, namespace and spec (YAML flow). */
const POLICIES: [name: string, namespace: string, spec: string][] = [
  ['mesh-wide', 'istio-system', '{action: DENY, rules: [{}]}'],
  ['mesh-selector', 'istio-system', '{selector: {matchLabels: {app: httpbin}}}'],
  ['ns-wide', 'foo', '{}'],
  ['by-label', 'foo', '{selector: {matchLabels: {app: httpbin, version: v1}}}'],
  ['by-gateway-label', 'foo', '{selector: {matchLabels: {gateway.networking.k8s.io/gateway-name: httpbin-gateway}}}'],
  ['target-gateway', 'foo', '{targetRefs: [{group: gateway.networking.k8s.io, kind: Gateway, name: httpbin-gateway}]}'],
  ['target-route', 'foo', '{targetRefs: [{group: gateway.networking.k8s.io, kind: HTTPRoute, name: httpbin}]}'],
  ['target-service', 'foo', '{targetRef: {kind: Service, group: "", name: httpbin}}'],
  ['other-ns', 'bar', '{}'],
  ['target-elsewhere', 'bar', '{targetRefs: [{kind: Service, name: httpbin}]}'],
];

const policies = load(POLICIES.map(([name, namespace, spec]) => `kind: AuthorizationPolicy
apiVersion: security.istio.io/v1
metadata: {name: ${name}, namespace: ${namespace}}
spec: ${spec}
`).join('---\n'));

const names = (hop: PolicyHop, route?: { namespace: string; name: string }) =>
  selectIstioPolicies(policies, hop, { rootNamespace: 'istio-system', route }).map((p) => p.resource.metadata.name).sort();

test('destination Service hop: root namespace, own namespace, labels, Service targetRef', () => {
  assert.deepEqual(names({ kind: 'Service', namespace: 'foo', name: 'httpbin', labels: { app: 'httpbin', version: 'v1' } }), [
    'by-label', 'mesh-selector', 'mesh-wide', 'ns-wide', 'target-service',
  ]);
  assert.deepEqual(names({ kind: 'Service', namespace: 'foo', name: 'httpbin', labels: { app: 'httpbin', version: 'v2' } }), [
    'mesh-selector', 'mesh-wide', 'ns-wide', 'target-service',
  ]);
  // A root-namespace selector applies mesh-wide (Istio), a namespaced one only at home.
  assert.deepEqual(names({ kind: 'Backend', namespace: 'baz', name: 'ext', labels: { app: 'httpbin', version: 'v1' } }), ['mesh-selector', 'mesh-wide']);
});

test('Gateway hop: Gateway targetRef, implicit gateway-name label, HTTPRoute targetRef only for its route', () => {
  const gw: PolicyHop = { kind: 'Gateway', namespace: 'foo', name: 'httpbin-gateway', labels: {} };
  assert.deepEqual(names(gw), ['by-gateway-label', 'mesh-wide', 'ns-wide', 'target-gateway']);
  assert.deepEqual(names(gw, { namespace: 'foo', name: 'httpbin' }), ['by-gateway-label', 'mesh-wide', 'ns-wide', 'target-gateway', 'target-route']);
  assert.deepEqual(names(gw, { namespace: 'foo', name: 'other' }), ['by-gateway-label', 'mesh-wide', 'ns-wide', 'target-gateway']);
  assert.deepEqual(names({ ...gw, name: 'other-gateway' }), ['mesh-wide', 'ns-wide']);
});

test('a Service targetRef never selects the Gateway hop, a Gateway targetRef never the Service hop', () => {
  const svcNamedLikeGw: PolicyHop = { kind: 'Service', namespace: 'foo', name: 'httpbin-gateway', labels: {} };
  assert.ok(!names(svcNamedLikeGw).includes('target-gateway'));
  const gwNamedLikeSvc: PolicyHop = { kind: 'Gateway', namespace: 'foo', name: 'httpbin', labels: {} };
  assert.ok(!names(gwNamedLikeSvc).includes('target-service'));
});

test('order is oldest first, then namespace/name, whatever the input order', () => {
  const ps = load(`
kind: PeerAuthentication
metadata: {name: b, namespace: foo, creationTimestamp: "2024-01-02T00:00:00Z"}
---
kind: PeerAuthentication
metadata: {name: a, namespace: foo, creationTimestamp: "2024-01-03T00:00:00Z"}
---
kind: PeerAuthentication
metadata: {name: c, namespace: foo}
---
kind: PeerAuthentication
metadata: {name: z, namespace: foo, creationTimestamp: "2024-01-01T00:00:00Z"}
`);
  const hop: PolicyHop = { kind: 'Service', namespace: 'foo', name: 's', labels: {} };
  const order1 = selectIstioPolicies(ps, hop, { rootNamespace: 'istio-system' }).map((p) => p.resource.metadata.name);
  const order2 = selectIstioPolicies([...ps].reverse(), hop, { rootNamespace: 'istio-system' }).map((p) => p.resource.metadata.name);
  assert.deepEqual(order1, ['z', 'b', 'a', 'c']);
  assert.deepEqual(order2, order1);
});

test('targeting validation: Istio rules, plus refusal of targets Portcullis cannot attach to', () => {
  const [both, ns, kind, wildcard, ok] = load(`
kind: AuthorizationPolicy
metadata: {name: both, namespace: foo}
spec:
  selector: {matchLabels: {app: a}}
  targetRefs: [{kind: Gateway, group: gateway.networking.k8s.io, name: g}]
---
kind: AuthorizationPolicy
metadata: {name: ns, namespace: foo}
spec:
  targetRefs: [{kind: Service, name: s, namespace: bar}]
---
kind: AuthorizationPolicy
metadata: {name: kind, namespace: foo}
spec:
  targetRefs: [{kind: ServiceEntry, group: networking.istio.io, name: s}, {kind: GatewayClass, group: gateway.networking.k8s.io, name: istio}]
---
kind: AuthorizationPolicy
metadata: {name: wildcard, namespace: foo}
spec:
  selector: {matchLabels: {app: "web*"}}
---
kind: AuthorizationPolicy
metadata: {name: ok, namespace: foo}
spec:
  targetRefs: [{kind: HTTPRoute, group: gateway.networking.k8s.io, name: r}, {kind: Service, name: s}]
`);
  assert.match(validatePolicyTargeting(both.resource)[0].message, /only one of selector, targetRef or targetRefs/);
  assert.equal(validatePolicyTargeting(ns.resource)[0].path, 'spec.targetRefs[0].namespace');
  const kindErrors = validatePolicyTargeting(kind.resource);
  assert.deepEqual(kindErrors.map((e) => e.path), ['spec.targetRefs[0].kind', 'spec.targetRefs[1].kind']);
  assert.match(validatePolicyTargeting(wildcard.resource)[0].message, /wildcard is not supported/);
  assert.deepEqual(validatePolicyTargeting(ok.resource), []);
  // A cross-namespace reference selects nothing.
  assert.deepEqual(selectIstioPolicies([ns], { kind: 'Service', namespace: 'bar', name: 's', labels: {} }, { rootNamespace: 'istio-system' }), []);
});
