// PeerAuthentication resolution (Istio's ComposePeerAuthentication), validation
// (Istio's webhook/CRD rules) and the trust bundle (cacerts / istio-ca-root-cert).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import type { LoadedResource, Resource } from '../src/resources/types.ts';
import type { ConfigError } from '../src/resources/errors.ts';
import { formatError } from '../src/resources/errors.ts';
import { checkResources } from '../src/resources/check.ts';
import { resolvePeerAuthentication, trustBundleFrom, gatewayWorkloadLabels, clientValidationFor, type WorkloadRef } from '../src/translate/istio/peer-authentication.ts';
import { makeCa, issueLocalhostCert, type RootCa } from './helpers/certs.ts';

const ROOT = 'istio-system';
const GW: WorkloadRef = { namespace: 'apps', name: 'edge', labels: { app: 'edge', tier: 'front' } };
let seq = 0;

function pa(ns: string, name: string, spec: Record<string, unknown> | undefined, created?: string): LoadedResource {
  const resource: Resource = { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace: ns, creationTimestamp: created }, spec };
  return { resource, seq: seq++ };
}
const mode = (m: string) => ({ mtls: { mode: m } });
const sel = (labels: Record<string, string>, extra: Record<string, unknown> = {}) => ({ selector: { matchLabels: labels }, ...extra });

function resolve(policies: LoadedResource[], port = 8443, gw: WorkloadRef = GW) {
  return resolvePeerAuthentication(policies, gw, port, ROOT);
}

test('inheritance table: mesh → namespace → workload → port, UNSET inherits, default PERMISSIVE', () => {
  const rows: { name: string; policies: LoadedResource[]; port?: number; want: string; origin?: string; reason?: string }[] = [
    { name: 'no policy', policies: [], want: 'PERMISSIVE', reason: 'default' },
    { name: 'mesh STRICT', policies: [pa(ROOT, 'default', mode('STRICT'))], want: 'STRICT', origin: 'PeerAuthentication/istio-system/default' },
    { name: 'mesh UNSET', policies: [pa(ROOT, 'default', mode('UNSET'))], want: 'PERMISSIVE', reason: 'default' },
    { name: 'mesh without mtls', policies: [pa(ROOT, 'default', {})], want: 'PERMISSIVE' },
    { name: 'mesh without spec', policies: [pa(ROOT, 'default', undefined)], want: 'PERMISSIVE' },
    { name: 'mesh STRICT, ns PERMISSIVE', policies: [pa(ROOT, 'default', mode('STRICT')), pa('apps', 'default', mode('PERMISSIVE'))], want: 'PERMISSIVE', origin: 'PeerAuthentication/apps/default' },
    { name: 'mesh STRICT, ns UNSET', policies: [pa(ROOT, 'default', mode('STRICT')), pa('apps', 'default', mode('UNSET'))], want: 'STRICT', origin: 'PeerAuthentication/istio-system/default' },
    { name: 'mesh DISABLE, ns STRICT, workload UNSET', policies: [pa(ROOT, 'm', mode('DISABLE')), pa('apps', 'n', mode('STRICT')), pa('apps', 'w', sel({ app: 'edge' }, mode('UNSET')))], want: 'STRICT', origin: 'PeerAuthentication/apps/n' },
    { name: 'ns STRICT, workload DISABLE', policies: [pa('apps', 'n', mode('STRICT')), pa('apps', 'w', sel({ app: 'edge' }, mode('DISABLE')))], want: 'DISABLE', origin: 'PeerAuthentication/apps/w', reason: 'mtls.mode' },
    { name: 'workload STRICT, port DISABLE', policies: [pa('apps', 'w', sel({ app: 'edge' }, { ...mode('STRICT'), portLevelMtls: { 8443: { mode: 'DISABLE' } } }))], want: 'DISABLE', reason: 'portLevelMtls[8443]' },
    { name: 'workload STRICT, other port DISABLE', policies: [pa('apps', 'w', sel({ app: 'edge' }, { ...mode('STRICT'), portLevelMtls: { 9000: { mode: 'DISABLE' } } }))], want: 'STRICT', reason: 'mtls.mode' },
    { name: 'port UNSET inherits workload UNSET inherits ns', policies: [pa('apps', 'n', mode('STRICT')), pa('apps', 'w', sel({ app: 'edge' }, { portLevelMtls: { 8443: { mode: 'UNSET' } } }))], want: 'STRICT', origin: 'PeerAuthentication/apps/n' },
    { name: 'mesh STRICT, workload mtls UNSET, port PERMISSIVE', policies: [pa(ROOT, 'm', mode('STRICT')), pa('apps', 'w', sel({ app: 'edge' }, { mtls: { mode: 'UNSET' }, portLevelMtls: { 8443: { mode: 'PERMISSIVE' } } }))], want: 'PERMISSIVE', reason: 'portLevelMtls[8443]' },
    { name: 'port key with leading zero', policies: [pa('apps', 'w', sel({ app: 'edge' }, { portLevelMtls: { '08443': { mode: 'STRICT' } } }))], want: 'STRICT' },
    { name: 'workload selector does not match', policies: [pa('apps', 'n', mode('PERMISSIVE')), pa('apps', 'w', sel({ app: 'other' }, mode('STRICT')))], want: 'PERMISSIVE' },
    { name: 'workload selector must match every label', policies: [pa('apps', 'w', sel({ app: 'edge', tier: 'back' }, mode('STRICT')))], want: 'PERMISSIVE' },
    { name: 'selector with several matching labels', policies: [pa('apps', 'w', sel({ app: 'edge', tier: 'front' }, mode('STRICT')))], want: 'STRICT' },
    { name: 'empty matchLabels is namespace-wide', policies: [pa('apps', 'n', { selector: { matchLabels: {} }, ...mode('STRICT') })], want: 'STRICT' },
    { name: 'other namespace is ignored', policies: [pa('other', 'default', mode('STRICT')), pa('other', 'w', sel({ app: 'edge' }, mode('STRICT')))], want: 'PERMISSIVE' },
    { name: 'selector policy in the root namespace is ignored', policies: [pa(ROOT, 'w', sel({ app: 'edge' }, mode('STRICT')))], want: 'PERMISSIVE' },
    { name: 'other kinds are ignored', policies: [{ resource: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'x', namespace: ROOT }, spec: mode('STRICT') }, seq: 1 }], want: 'PERMISSIVE' },
    { name: 'v1beta1 is read too', policies: [{ resource: { apiVersion: 'security.istio.io/v1beta1', kind: 'PeerAuthentication', metadata: { name: 'x', namespace: ROOT }, spec: mode('STRICT') }, seq: 1 }], want: 'STRICT' },
    { name: 'unknown mode fails closed', policies: [pa(ROOT, 'm', mode('PERMISSIVE')), pa('apps', 'n', mode('strict'))], want: 'STRICT' },
  ];
  for (const row of rows) {
    const got = resolve(row.policies, row.port);
    assert.equal(got.mode, row.want, row.name);
    if (row.origin) assert.equal(got.origin, row.origin, row.name);
    if (row.reason) assert.equal(got.reason, row.reason, row.name);
    if (row.reason === 'default') assert.equal(got.origin, undefined, row.name);
  }
});

test('a workload in the root namespace: its no-selector policy is the mesh policy, selector policies ignored', () => {
  const gw: WorkloadRef = { namespace: ROOT, name: 'ingress', labels: { istio: 'ingressgateway' } };
  assert.equal(resolve([pa(ROOT, 'default', mode('STRICT'))], 443, gw).mode, 'STRICT');
  assert.equal(resolve([pa(ROOT, 'default', mode('STRICT')), pa(ROOT, 'w', sel({ istio: 'ingressgateway' }, mode('DISABLE')))], 443, gw).mode, 'STRICT');
});

test('several policies at one level: the oldest wins (then namespace/name), only it is read', () => {
  const older = pa('apps', 'zz', mode('STRICT'), '2024-01-01T00:00:00Z');
  const newer = pa('apps', 'aa', mode('DISABLE'), '2024-06-01T00:00:00Z');
  assert.equal(resolve([newer, older]).origin, 'PeerAuthentication/apps/zz');
  assert.equal(resolve([older, newer]).origin, 'PeerAuthentication/apps/zz');
  // Same timestamp (Istio stores seconds): name decides.
  const t = '2024-01-01T00:00:00Z';
  assert.equal(resolve([pa('apps', 'b', mode('STRICT'), t), pa('apps', 'a', mode('DISABLE'), t)]).mode, 'DISABLE');
  // No timestamps (plain YAML files): load order stands in for creation order (translate/attachment/precedence.ts),
  // whatever order the caller lists them in.
  const first = pa('apps', 'b', mode('STRICT'));
  const second = pa('apps', 'a', mode('DISABLE'));
  assert.equal(resolve([first, second]).origin, 'PeerAuthentication/apps/b');
  assert.equal(resolve([second, first]).origin, 'PeerAuthentication/apps/b');
  // A policy with a timestamp is older than every one without.
  assert.equal(resolve([first, pa('apps', 'c', mode('DISABLE'), '2030-01-01T00:00:00Z')]).origin, 'PeerAuthentication/apps/c');
  // Workload level: the oldest matching one wins even if it is UNSET and a newer one has a mode and port settings.
  const wOld = pa('apps', 'w-old', sel({ app: 'edge' }, mode('UNSET')), '2023-01-01T00:00:00Z');
  const wNew = pa('apps', 'w-new', sel({ tier: 'front' }, { ...mode('DISABLE'), portLevelMtls: { 8443: { mode: 'DISABLE' } } }), '2024-01-01T00:00:00Z');
  const got = resolve([pa('apps', 'n', mode('STRICT')), wNew, wOld]);
  assert.deepEqual(got, { mode: 'STRICT', origin: 'PeerAuthentication/apps/n', reason: 'mtls.mode' });
  // An older non-matching workload policy does not shadow a matching one.
  const wOther = pa('apps', 'w-other', sel({ app: 'nope' }, mode('DISABLE')), '2020-01-01T00:00:00Z');
  assert.equal(resolve([wOther, wNew]).mode, 'DISABLE');
});

test('gatewayWorkloadLabels adds the label Istio puts on gateway pods', () => {
  const labels = gatewayWorkloadLabels({ name: 'edge', labels: { app: 'edge' }, infrastructureLabels: { team: 'a' } });
  assert.deepEqual(labels, { app: 'edge', team: 'a', 'gateway.networking.k8s.io/gateway-name': 'edge', 'istio.io/gateway-name': 'edge' });
  const p = pa('apps', 'w', sel({ 'gateway.networking.k8s.io/gateway-name': 'edge' }, mode('STRICT')));
  assert.equal(resolve([p], 443, { namespace: 'apps', name: 'edge', labels }).mode, 'STRICT');
});

function errorsOf(spec: unknown, ns = 'apps'): string[] {
  const lr = pa(ns, 'p', spec as Record<string, unknown>);
  lr.source = { file: 'peer.yaml', doc: 2, line: 10, lineOf: (path) => (path.join('.') === 'spec.portLevelMtls' ? 17 : undefined) };
  // Validation lives in src/resources (one set of rules); translate reads only what passed it.
  return checkResources([lr]).errors.map(formatError);
}

test('validation: Istio accepts its documented examples', () => {
  assert.deepEqual(errorsOf(undefined), []);
  assert.deepEqual(errorsOf({}), []);
  assert.deepEqual(errorsOf(mode('STRICT')), []);
  assert.deepEqual(errorsOf(sel({ app: 'finance' }, { ...mode('STRICT'), portLevelMtls: { 8080: { mode: 'DISABLE' } } })), []);
  assert.deepEqual(errorsOf(sel({ app: 'finance' }, { mtls: { mode: 'UNSET' }, portLevelMtls: { 8080: { mode: 'DISABLE' } } })), []);
  assert.deepEqual(errorsOf({ selector: {}, mtls: {} }), []);
});

test('validation: what Istio rejects, with file, line and field path', () => {
  const e = errorsOf({ ...mode('STRICT'), portLevelMtls: { 8080: { mode: 'DISABLE' } } });
  assert.deepEqual(e, ['peer.yaml:17 (document 2) PeerAuthentication/apps/p: spec.portLevelMtls: portLevelMtls requires selector (a namespace- or mesh-wide policy cannot have port level mTLS)']);
  assert.match(errorsOf({ selector: { matchLabels: {} }, portLevelMtls: { 80: {} } }).join(), /cannot have port level mTLS/);
  assert.match(errorsOf(sel({ a: 'b' }, { portLevelMtls: {} })).join(), /must have at least 1 entry/);
  assert.match(errorsOf(sel({ a: 'b' }, { portLevelMtls: { 0: { mode: 'STRICT' } } })).join(), /portLevelMtls\["0"\]: port must be between 1-65535/);
  assert.match(errorsOf(sel({ a: 'b' }, { portLevelMtls: { 70000: { mode: 'STRICT' } } })).join(), /port must be between 1-65535/);
  assert.match(errorsOf(sel({ a: 'b' }, { portLevelMtls: { http: { mode: 'STRICT' } } })).join(), /must be a port number/);
  assert.match(errorsOf(sel({ a: 'b' }, { portLevelMtls: { 80: { mode: 'MUTUAL' } } })).join(), /mode: must be one of: UNSET, DISABLE, PERMISSIVE, STRICT \(got "MUTUAL"\)/);
  assert.match(errorsOf(mode('strict')).join(), /spec\.mtls\.mode: must be one of/);
  assert.match(errorsOf({ mtls: { mode: 1 } }).join(), /must be one of/);
  assert.match(errorsOf({ mtls: 'STRICT' }).join(), /spec\.mtls: must be a map/);
  assert.match(errorsOf({ mtls: { mode: 'STRICT', extra: 1 } }).join(), /spec\.mtls\.extra: unknown field/);
  assert.match(errorsOf({ targetRef: { kind: 'Service', name: 'x' } }).join(), /spec\.targetRef: unknown field/);
  assert.match(errorsOf({ selector: { matchLabels: { app: '*' } } }).join(), /wildcard not allowed/);
  assert.match(errorsOf({ selector: { matchLabels: { 'a*': 'x' } } }).join(), /wildcard not allowed/);
  assert.match(errorsOf({ selector: { matchLabels: { '': 'x' } } }).join(), /key must not be empty/);
  assert.match(errorsOf({ selector: { matchLabels: { a: 1 } } }).join(), /must be a string/);
  assert.match(errorsOf({ selector: { matchExpressions: [] } }).join(), /spec\.selector\.matchExpressions: unknown field/);
  assert.match(errorsOf({ selector: 'app=x' }).join(), /spec\.selector: must be a map/);
  assert.match(errorsOf([1, 2]).join(), /spec: must be a map/);
  assert.match(errorsOf(sel({ a: 'b' }, { portLevelMtls: [{ mode: 'STRICT' }] })).join(), /must be a map/);
});

let ca: RootCa;
let caPem2: string;
before(async () => {
  ca = await makeCa();
  caPem2 = (await makeCa({ commonName: 'second' })).certPem;
});

function res(kind: 'Secret' | 'ConfigMap', name: string, fields: Partial<Resource>, ns = ROOT): LoadedResource {
  return { resource: { apiVersion: 'v1', kind, metadata: { name, namespace: ns }, ...fields }, seq: seq++ };
}
const b64 = (s: string) => Buffer.from(s).toString('base64');

test('trust bundle: cacerts Secret (data base64 or stringData) wins over istio-ca-root-cert', () => {
  const errors: ConfigError[] = [];
  const secret = res('Secret', 'cacerts', { data: { 'root-cert.pem': b64(ca.certPem), 'ca-cert.pem': b64(ca.certPem) } });
  const cm = res('ConfigMap', 'istio-ca-root-cert', { data: { 'root-cert.pem': caPem2 } });
  assert.equal(trustBundleFrom([cm, secret], ROOT, errors), ca.certPem);
  assert.equal(trustBundleFrom([cm], ROOT, errors), caPem2);
  assert.equal(trustBundleFrom([res('Secret', 'cacerts', { stringData: { 'root-cert.pem': ca.certPem + caPem2 } })], ROOT, errors), ca.certPem + caPem2);
  // cert-manager layout of cacerts (ca.crt), which Istio also accepts.
  assert.equal(trustBundleFrom([res('Secret', 'cacerts', { type: 'kubernetes.io/tls', data: { 'ca.crt': b64(ca.certPem) } })], ROOT, errors), ca.certPem);
  // CRLF and surrounding text are normalized away.
  assert.equal(trustBundleFrom([res('ConfigMap', 'istio-ca-root-cert', { data: { 'root-cert.pem': `# root\r\n${ca.certPem.replace(/\n/g, '\r\n')}` } })], ROOT, errors), ca.certPem);
  assert.deepEqual(errors, []);
});

test('trust bundle: only the root namespace counts; nothing configured is undefined without error', () => {
  const errors: ConfigError[] = [];
  assert.equal(trustBundleFrom([res('Secret', 'cacerts', { stringData: { 'root-cert.pem': ca.certPem } }, 'apps')], ROOT, errors), undefined);
  assert.equal(trustBundleFrom([res('ConfigMap', 'istio-ca-root-cert', { data: { 'root-cert.pem': ca.certPem } }, 'apps')], ROOT, errors), undefined);
  assert.equal(trustBundleFrom([], ROOT, errors), undefined);
  assert.equal(trustBundleFrom([res('Secret', 'other', { stringData: { 'root-cert.pem': ca.certPem } })], ROOT, errors), undefined);
  assert.deepEqual(errors, []);
});

test('trust bundle: unusable content is a ConfigError naming the field, never key material', async () => {
  const server = await issueLocalhostCert(ca);
  const cases: [LoadedResource, RegExp][] = [
    [res('Secret', 'cacerts', { data: { 'root-cert.pem': 'not base64!' } }), /data\["root-cert\.pem"\]: is not valid base64/],
    [res('Secret', 'cacerts', { data: { 'root-cert.pem': b64('hello') } }), /data\["root-cert\.pem"\]: root-cert\.pem is not a usable PEM certificate bundle: no PEM certificate found/],
    [res('Secret', 'cacerts', { stringData: { 'root-cert.pem': ca.keyPem } }), /stringData\["root-cert\.pem"\]: .*PRIVATE KEY, expected CERTIFICATE/],
    [res('Secret', 'cacerts', { stringData: { 'root-cert.pem': ca.certPem.replace(/[A-Za-z]{12}\n/, 'AAAAAAAAAAAA\n') } }), /does not parse/],
    [res('Secret', 'cacerts', { stringData: { 'root-cert.pem': server.certPem } }), /certificate 1 \(CN=localhost\) is not a CA certificate/],
    [res('Secret', 'cacerts', { data: { 'ca-cert.pem': b64(ca.certPem) } }), /cacerts has no root-cert\.pem/],
    [res('ConfigMap', 'istio-ca-root-cert', { data: { 'ca.crt': ca.certPem } }), /istio-ca-root-cert has no root-cert\.pem/],
    [res('ConfigMap', 'istio-ca-root-cert', { data: { 'root-cert.pem': '-----BEGIN CERTIFICATE-----\nAAAA' } }), /malformed PEM/],
  ];
  for (const [lr, re] of cases) {
    const errors: ConfigError[] = [];
    assert.equal(trustBundleFrom([lr], ROOT, errors), undefined, String(re));
    assert.equal(errors.length, 1, String(re));
    const text = formatError(errors[0]);
    assert.match(text, re);
    assert.doesNotMatch(text, /-----BEGIN|MII/);
  }
});

test('clientValidationFor: how a listener port enforces the modes of the Gateways on it', () => {
  const pem = 'PEM';
  assert.deepEqual(clientValidationFor(['STRICT'], pem), { clientValidation: { caPem: pem, mode: 'REQUIRE' }, mixed: false });
  assert.deepEqual(clientValidationFor(['STRICT', 'STRICT'], pem), { clientValidation: { caPem: pem, mode: 'REQUIRE' }, mixed: false });
  assert.deepEqual(clientValidationFor(['PERMISSIVE'], pem), { clientValidation: { caPem: pem, mode: 'OPTIONAL' }, mixed: false });
  assert.deepEqual(clientValidationFor(['STRICT', 'PERMISSIVE'], pem), { clientValidation: { caPem: pem, mode: 'OPTIONAL' }, mixed: true });
  assert.deepEqual(clientValidationFor(['STRICT', 'DISABLE'], pem), { clientValidation: { caPem: pem, mode: 'OPTIONAL' }, mixed: true });
  assert.deepEqual(clientValidationFor(['DISABLE'], pem), { mixed: false });
  assert.deepEqual(clientValidationFor([], pem), { mixed: false });
  assert.deepEqual(clientValidationFor(['PERMISSIVE'], undefined), { mixed: false });
  assert.match(clientValidationFor(['STRICT'], undefined).error ?? '', /STRICT mTLS needs a trust bundle/);
  assert.equal(clientValidationFor(['STRICT'], undefined).clientValidation, undefined);
});
