// Policies and mesh configs that are rejected at load time: the error points at
// the field, and what the policy then does never fails open.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseAllDocuments } from 'yaml';
import { RequestContext } from '../src/core/request.ts';
import type { LoadedResource, SourceRef } from '../src/resources/types.ts';
import type { CompiledFilter, Reply } from '../src/filters/types.ts';
import { istioAuthorizationFilter, type IstioAuthorizationConfig } from '../src/filters/istio-authorization.ts';
import { buildAuthorizationFilter, parseConditionKey, type AuthorizationFilterResult } from '../src/translate/istio/authorization-policy.ts';
import {
  emptyMeshProviders, findMeshConfigMap, parseDuration, parseMeshConfig, resolveExtAuthzProvider, type MeshProviders, type ServiceResolver,
} from '../src/translate/istio/mesh-config.ts';
import { bareCompileContext } from './helpers/compile-context.ts';

/** Loads documents with a SourceRef whose lineOf answers from the YAML, as the real loader does. */
function load(text: string): LoadedResource[] {
  const docs = parseAllDocuments(text);
  return docs.map((d, i) => {
    const lineOf = (path: (string | number)[]) => {
      const node = d.getIn(path, true) as { range?: [number, number, number] } | undefined;
      return node?.range ? text.slice(0, node.range[0]).split('\n').length : undefined;
    };
    const start = d.range[0];
    const source: SourceRef = { file: 'policies.yaml', doc: i + 1, line: text.slice(0, start).split('\n').length, lineOf };
    return { resource: d.toJS(), seq: i, source };
  });
}

function build(text: string, mesh: MeshProviders = emptyMeshProviders(), resolve: ServiceResolver = () => undefined): AuthorizationFilterResult {
  return buildAuthorizationFilter(load(text), mesh, resolve, { hop: 'Service/foo/httpbin' });
}

function compiled(res: AuthorizationFilterResult): CompiledFilter {
  assert.ok(res.filter);
  return istioAuthorizationFilter.compile(res.filter.config as IstioAuthorizationConfig, bareCompileContext(''));
}

function ctx(method = 'GET', path = '/'): RequestContext {
  return new RequestContext({
    method, host: 'h', port: 80, scheme: 'http', path, query: '', headers: { host: 'h' }, clientIp: '1.1.1.1',
    remoteIp: '1.1.1.1', localIp: '2.2.2.2', tls: undefined, requestId: 'x', tracing: true,
  });
}

function status(f: CompiledFilter, c = ctx()): number {
  const d = f.onRequest!(c);
  assert.ok(!(d instanceof Promise));
  return d === undefined ? 200 : (d as Reply).status;
}

const head = (name: string, action: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: ${name}, namespace: foo}
spec:
  action: ${action}`;

test('unknown condition key: error at the key; ALLOW drops the rule, DENY drops the condition (wider)', () => {
  const allow = build(`${head('allow', 'ALLOW')}
  rules:
  - when:
    - key: request.headers[x-a]
      values: ["1"]
    - key: request.bogus
      values: ["x"]
  - to:
    - operation:
        methods: ["GET"]
`);
  assert.equal(allow.errors.length, 1);
  assert.equal(allow.errors[0].path, 'spec.rules[0].when[1].key');
  assert.match(allow.errors[0].message, /unknown attribute: request\.bogus/);
  assert.equal(allow.errors[0].object, 'AuthorizationPolicy/foo/allow');
  assert.equal(allow.errors[0].line, 10, 'points at the line of the key');
  const fa = compiled(allow);
  assert.equal(status(fa, ctx('GET')), 200, 'rule 1 still allows');
  const c = ctx('POST');
  c.headers['x-a'] = '1';
  assert.equal(status(fa, c), 403, 'rule 0 is gone: it does not allow');
  assert.equal(allow.status[0].accepted, false);
  assert.match(allow.status[0].conditions[0].message, /rule 0 ignored/);

  const deny = build(`${head('deny', 'DENY')}
  rules:
  - to:
    - operation:
        methods: ["DELETE"]
    when:
    - key: destination.labels[app]
      values: ["x"]
`);
  assert.match(deny.errors[0].message, /replaced by the workload selector/);
  const fd = compiled(deny);
  assert.equal(status(fd, ctx('DELETE')), 403, 'still denies DELETE without the bad condition');
  assert.equal(status(fd, ctx('GET')), 200);
});

test('bad CIDR and bad port: ALLOW rule dropped; DENY keeps the other values', () => {
  const allow = build(`${head('a', 'ALLOW')}
  rules:
  - from:
    - source:
        ipBlocks: ["1.1.1.0/24", "300.1.1.1"]
`);
  assert.equal(allow.errors[0].path, 'spec.rules[0].from[0].source.ipBlocks[1]');
  assert.match(allow.errors[0].message, /bad IP address \(300\.1\.1\.1\)/);
  assert.equal(status(compiled(allow)), 403, 'the only rule is dropped: allow nothing');

  const deny = build(`${head('d', 'DENY')}
  rules:
  - from:
    - source:
        ipBlocks: ["1.1.1.0/24", "1.1.1.1/99"]
    to:
    - operation:
        ports: ["80", "99999"]
`);
  assert.deepEqual(deny.errors.map((e) => e.path), ['spec.rules[0].from[0].source.ipBlocks[1]', 'spec.rules[0].to[0].operation.ports[1]']);
  assert.equal(status(compiled(deny)), 403, '1.1.1.1 on port 80 is still denied');
});

test('DENY without rules is rejected, and its hop denies everything', () => {
  for (const rules of ['', '\n  rules: []']) {
    const res = build(`${head('deny-nothing', 'DENY')}${rules}\n`);
    assert.equal(res.errors.length, 1);
    assert.equal(res.errors[0].path, 'spec.rules');
    assert.match(res.errors[0].message, /DENY action without `rules`/);
    const c = ctx();
    assert.equal(status(compiled(res), c), 403);
    assert.match(c.trace!.at(-1)!.reason, /rejected at load; denies every request/);
  }
});

test('one bad policy does not drop the others', () => {
  const res = build(`${head('bad-allow', 'ALLOW')}
  rules:
  - to: [{operation: {methods: ["GET"], verbs: ["x"]}}]
---
${head('good-allow', 'ALLOW')}
  rules:
  - to: [{operation: {paths: ["/public*"]}}]
---
${head('good-deny', 'DENY')}
  rules:
  - to: [{operation: {paths: ["/public/secret"]}}]
`);
  assert.equal(res.errors.length, 1);
  assert.equal(res.errors[0].path, 'spec.rules[0].to[0].operation.verbs');
  assert.deepEqual(res.status.map((s) => s.accepted), [false, true, true]);
  const f = compiled(res);
  assert.equal(status(f, ctx('GET', '/public/x')), 200);
  assert.equal(status(f, ctx('GET', '/public/secret')), 403);
  assert.equal(status(f, ctx('GET', '/private')), 403, 'the bad rule does not allow GET');
});

test('policy-level errors: unknown action, unknown spec field, provider on ALLOW, bad selector', () => {
  const typo = build(`${head('typo', 'DENNY')}
  rules: [{}]
`);
  assert.equal(typo.errors[0].path, 'spec.action');
  assert.equal(status(compiled(typo)), 403, 'an unreadable action denies');

  const field = build(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: field, namespace: foo}
spec:
  action: ALLOW
  rule:
  - {}
`);
  assert.equal(field.errors[0].path, 'spec.rule');
  assert.equal(status(compiled(field)), 403, 'an unreadable ALLOW allows nothing');

  const provider = build(`${head('prov', 'ALLOW')}
  provider: {name: x}
  rules: [{}]
`);
  assert.match(provider.errors[0].message, /`provider` must not be with non CUSTOM action/);
  assert.equal(status(compiled(provider)), 403);

  const selector = build(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: {name: sel, namespace: foo}
spec:
  selector: {matchLabels: {app: "*"}}
  action: DENY
  rules: [{to: [{operation: {paths: ["/x"]}}]}]
`);
  assert.match(selector.errors[0].message, /wildcard is not supported/);
  assert.equal(status(compiled(selector), ctx('GET', '/y')), 403, 'an unusable DENY denies everything');
});

test('Istio field validation: empty from/to, empty source, nil operation, empty values, wildcard service accounts, path templates', () => {
  const res = build(`${head('v', 'ALLOW')}
  rules:
  - from: []
  - from: [{source: {}}]
  - to: [{}]
  - when: [{key: "request.headers[x]", values: []}]
  - from: [{source: {principals: [""]}}]
  - from: [{source: {serviceAccounts: ["ns/*"]}}]
  - from: [{source: {serviceAccounts: ["a"], namespaces: ["b"]}}]
  - to: [{operation: {paths: ["/a/{**}/{*}"]}}]
  - when: [{key: "request.headers[]", values: ["x"]}]
  - when: [{key: "request.auth.claims[a][b", values: ["x"]}]
  - when: [{key: "experimental.envoy.filters.network.mysql_proxy[db.table]", values: ["[update]"]}]
  - when: [{key: destination.port, values: ["http"]}]
  - to: [{operation: {methods: "GET"}}]
`);
  const paths = res.errors.map((e) => e.path);
  assert.deepEqual(paths, [
    'spec.rules[0].from',
    'spec.rules[1].from[0].source',
    'spec.rules[2].to[0].operation',
    'spec.rules[3].when[0]',
    'spec.rules[4].from[0].source.principals[0]',
    'spec.rules[5].from[0].source.serviceAccounts[0]',
    'spec.rules[6].from[0].source',
    'spec.rules[7].to[0].operation.paths[0]',
    'spec.rules[8].when[0].key',
    'spec.rules[9].when[0].key',
    'spec.rules[10].when[0].key',
    'spec.rules[11].when[0].values[0]',
    'spec.rules[12].to[0].operation.methods',
  ]);
  assert.match(res.errors[10].message, /experimental in Istio and not supported by Portcullis/);
  // Every rule was bad: an ALLOW policy left with nothing allows nothing.
  assert.equal(status(compiled(res)), 403);
});

test('condition keys parse as Istio reads them', () => {
  assert.deepEqual(parseConditionKey('request.headers[X-Token]'), { attr: 'request.headers', header: 'x-token' });
  assert.deepEqual(parseConditionKey('request.auth.claims[a][b]'), { attr: 'request.auth.claims', claim: ['a', 'b'] });
  assert.deepEqual(parseConditionKey('request.auth.claims[a.b]'), { attr: 'request.auth.claims', claim: ['a.b'] });
  assert.deepEqual(parseConditionKey('request.auth.claims[a[b]]'), { attr: 'request.auth.claims', claim: ['a[b]'] });
  assert.deepEqual(parseConditionKey('source.ip'), { attr: 'source.ip' });
  for (const bad of ['request.headers', 'request.headersX[a]', 'request.auth.claims[]', 'destination.namespace', 'destination.name', 'source.ip ', 'SOURCE.IP', '']) {
    assert.ok('error' in parseConditionKey(bad), bad);
  }
});

const meshYaml = (providers: string) => `apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: |-
    extensionProviders:
${providers.replace(/^/gm, '    ')}
`;

function mesh(providers: string) {
  const res = load(meshYaml(providers));
  return parseMeshConfig(findMeshConfigMap(res, 'istio-system'));
}

test('mesh config: the task page providers parse (ports as strings, header lists)', () => {
  const { mesh: m, errors } = mesh(`- name: "sample-ext-authz-grpc"
  envoyExtAuthzGrpc:
    service: "ext-authz.foo.svc.cluster.local"
    port: "9000"
- name: "sample-ext-authz-http"
  envoyExtAuthzHttp:
    service: "ext-authz.foo.svc.cluster.local"
    port: "8000"
    includeRequestHeadersInCheck: ["x-ext-authz"]
- name: "oauth2-proxy"
  envoyExtAuthzHttp:
    service: "oauth2-proxy.foo.svc.cluster.local"
    port: "4180"
    timeout: 1.5s
    failOpen: true
    statusOnError: "503"
    pathPrefix: /oauth2
    includeRequestHeadersInCheck: ["authorization", "cookie"]
    includeAdditionalHeadersInCheck: {X-Portcullis: "yes"}
    headersToUpstreamOnAllow: ["authorization", "path", "x-auth-request-*"]
    headersToDownstreamOnAllow: ["set-cookie"]
    headersToDownstreamOnDeny: ["content-type", "set-cookie"]
- name: zipkin
  zipkin: {service: zipkin.istio-system.svc.cluster.local, port: 9411}`);
  assert.deepEqual(errors, []);
  assert.deepEqual([...m.providers.keys()], ['sample-ext-authz-grpc', 'sample-ext-authz-http', 'oauth2-proxy']);
  assert.ok(m.others.has('zipkin'));
  const oauth = m.providers.get('oauth2-proxy')!;
  assert.equal(oauth.port, 4180);
  assert.equal(oauth.timeoutMs, 1500);
  assert.equal(oauth.statusOnError, 503);
  const cfg = resolveExtAuthzProvider(oauth, (svc, port) => (svc === 'oauth2-proxy.foo.svc.cluster.local' ? [{ host: '10.0.0.7', port }] : undefined));
  assert.ok(typeof cfg === 'object' && cfg.protocol === 'http');
  assert.deepEqual(cfg.endpoints, [{ host: '10.0.0.7', port: 4180 }]);
  assert.deepEqual(cfg.allowedUpstreamHeaders[2], { kind: 'prefix', value: 'x-auth-request-' });
  assert.deepEqual(cfg.headersToAdd, [{ name: 'x-portcullis', value: 'yes' }]);
  assert.match(String(resolveExtAuthzProvider(m.providers.get('sample-ext-authz-grpc')!, () => undefined)), /could not find service ext-authz\.foo\.svc\.cluster\.local port 9000/);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('soon'), undefined);
});

test('mesh config errors point into the mesh text; a bad provider stays known as invalid', () => {
  const { mesh: m, errors } = mesh(`- name: bad
  envoyExtAuthzHttp:
    service: ""
    port: 70000
    statusOnError: "abc"
    pathPrefix: "no-slash"
    includeRequestBodyInCheck: {maxRequestBytes: 0}
    includeRequestHeadersInCheck: ["*"]
    frobnicate: true
- name: bad
  envoyExtAuthzGrpc: {service: a, port: 1}`);
  const messages = errors.map((e) => e.message);
  for (const want of [
    /envoyExtAuthzHttp\.frobnicate: unknown field/, /service must not be empty/, /port must be in the range/, /invalid statusOnError/,
    /pathPrefix must begin with/, /includeRequestBodyInCheck\.maxRequestBytes: must be a whole number of bytes/, /single wildcard/, /must be unique/,
  ]) {
    assert.ok(messages.some((msg) => want.test(msg)), `${want} in ${messages.join(' | ')}`);
  }
  assert.ok(errors.every((e) => e.object === 'ConfigMap/istio-system/istio' && e.path === 'data.mesh'));
  const portErr = errors.find((e) => /port must be/.test(e.message))!;
  assert.equal(portErr.line, 10, 'the line of `port:` in the file');
  assert.ok(m.invalid.has('bad'));
  assert.equal(m.providers.size, 0);

  const broken = parseMeshConfig(load(`apiVersion: v1
kind: ConfigMap
metadata: {name: istio, namespace: istio-system}
data:
  mesh: "extensionProviders: [unclosed"
`)[0]);
  assert.match(broken.fatal[0].message, /invalid YAML/, 'a mesh config that cannot be read is not served around');
  assert.deepEqual(broken.errors, []);
});

test('CUSTOM: unknown provider, invalid provider, unresolvable service, two providers → its rules deny', () => {
  const providers = mesh(`- name: good
  envoyExtAuthzHttp: {service: authz.foo.svc.cluster.local, port: 8000}
- name: other
  envoyExtAuthzGrpc: {service: authz2.foo.svc.cluster.local, port: 9000}
- name: broken
  envoyExtAuthzGrpc: {service: x, port: 0}
- name: tracing
  zipkin: {service: z, port: 1}`).mesh;
  const custom = (name: string, provider: string, path: string) => `${head(name, 'CUSTOM')}
  provider: {name: ${provider}}
  rules: [{to: [{operation: {paths: ["${path}"]}}]}]
`;
  const resolve = (svc: string, port: number) => (svc.startsWith('authz') ? [{ host: '127.0.0.1', port }] : undefined);
  const cases: [string, RegExp][] = [
    ['nope', /available providers are \[good, other\] but found "nope"/],
    ['broken', /found errors in provider broken/],
    ['tracing', /not an envoyExtAuthzHttp or envoyExtAuthzGrpc provider/],
  ];
  for (const [provider, why] of cases) {
    const res = build(custom('c', provider, '/checked'), providers, resolve);
    assert.match(res.errors[0].message, why);
    assert.equal(res.errors[0].path, 'spec.provider.name');
    const f = compiled(res);
    assert.equal(status(f, ctx('GET', '/checked')), 403, `${provider}: what would have been checked is denied`);
    assert.equal(status(f, ctx('GET', '/other')), 200);
  }
  const unresolvable = build(custom('c', 'good', '/checked'), providers, () => undefined);
  assert.match(unresolvable.errors[0].message, /could not find service/);
  assert.equal(status(compiled(unresolvable), ctx('GET', '/checked')), 403);

  const two = build(`${custom('c1', 'good', '/a')}---\n${custom('c2', 'other', '/b')}`, providers, resolve);
  assert.equal(two.errors.length, 2);
  assert.match(two.errors[0].message, /only 1 provider can be used per workload/);
  const f2 = compiled(two);
  assert.equal(status(f2, ctx('GET', '/a')), 403);
  assert.equal(status(f2, ctx('GET', '/b')), 403);
  assert.equal(status(f2, ctx('GET', '/c')), 200);

  const noRules = build(`${head('c', 'CUSTOM')}\n  provider: {name: good}\n`, providers, resolve);
  assert.match(noRules.errors[0].message, /CUSTOM action without `rules`/);
  assert.equal(status(compiled(noRules), ctx('GET', '/anything')), 403);

  const identity = build(`${head('c', 'CUSTOM')}
  provider: {name: good}
  rules: [{from: [{source: {principals: ["x"]}}], to: [{operation: {paths: ["/p"]}}]}]
`, providers, resolve);
  assert.match(identity.errors[0].message, /principals is currently not supported with CUSTOM action/);
  assert.ok(identity.filter);
  const cfg = identity.filter.config as IstioAuthorizationConfig;
  assert.ok(cfg.custom, 'still checked externally');
  assert.equal(cfg.custom.policies[0].rules[0].from![0].length, 0, 'the refused source field is left out: wider');
});

test('dry-run annotation: bad value is enforced; no filter for no policies', () => {
  const res = build(`apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: d
  namespace: foo
  annotations: {istio.io/dry-run: "maybe"}
spec:
  action: DENY
  rules: [{}]
`);
  assert.equal(res.errors[0].path, 'metadata.annotations["istio.io/dry-run"]');
  assert.equal(status(compiled(res)), 403);
  const none = buildAuthorizationFilter([], emptyMeshProviders(), () => undefined, { hop: 'x' });
  assert.equal(none.filter, undefined);
  assert.deepEqual(none.status, []);
});

test('garbage specs never throw', () => {
  const specs: unknown[] = [null, 'x', 42, [], { rules: 'x' }, { rules: [null, 'x', 3, []] }, { rules: [{ from: 'x', to: [null], when: [1] }] },
    { rules: [{ when: [{ key: 7, values: 'x' }] }] }, { action: 3, provider: 'x', rules: [{}] }, { selector: 'x' }, { targetRefs: 'x' }];
  for (const spec of specs) {
    const lr: LoadedResource = { resource: { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'g', namespace: 'foo' }, spec }, seq: 0 };
    const res = buildAuthorizationFilter([lr], emptyMeshProviders(), () => undefined, { hop: 'h' });
    assert.ok(res.errors.length > 0 || spec === null, JSON.stringify(spec));
    if (res.filter) assert.doesNotThrow(() => status(compiled(res)));
  }
});
