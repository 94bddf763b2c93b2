// Gateway API match precedence, through translate and the compiled router.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYamlResources } from '../src/resources/load.ts';
import { translate, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { Router } from '../src/dataplane/router.ts';
import type { IRRoute } from '../src/ir/types.ts';

function routerFor(yaml: string): Router<{ id: string; label: string; ir: IRRoute }> {
  const parsed = parseYamlResources(yaml, 'test.yaml');
  assert.deepEqual(parsed.errors, []);
  const { snapshot } = translate(parsed.resources.map((r, i) => ({ ...r, seq: i })), DEFAULT_TRANSLATE_OPTIONS);
  const l = snapshot.listeners[0];
  return new Router(l.routes.map((r) => ({ id: r.id, label: r.label, ir: r })));
}

const GW = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  listeners: [{ name: http, protocol: HTTP, port: 80 }]
`;

function route(name: string, spec: string, created?: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}${created ? `, creationTimestamp: "${created}"` : ''} }
spec:
  parentRefs: [{ name: gw }]
${spec}
`;
}

const r = routerFor(
  GW +
    route('exact', `  rules: [{ matches: [{ path: { type: Exact, value: /foo } }] }]`) +
    route('prefix-short', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /foo } }] }]`) +
    route('prefix-long', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /foo/bar/ } }] }]`) +
    route('regex', `  rules: [{ matches: [{ path: { type: RegularExpression, value: "/foo/[0-9]+" } }] }]`) +
    route('method', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /foo }, method: POST }] }]`) +
    route('one-header', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /h }, headers: [{ name: x-a, value: "1" }] }] }]`) +
    route('two-headers', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /h }, headers: [{ name: x-a, value: "1" }, { name: X-B, type: RegularExpression, value: "b+" }] }] }]`) +
    route('query', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /h }, queryParams: [{ name: v, value: "2" }] }] }]`) +
    route('newer', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /tie } }] }]`, '2024-02-01T00:00:00Z') +
    route('older', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /tie } }] }]`, '2024-01-01T00:00:00Z') +
    route('b-same-age', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /name } }] }]`, '2024-01-01T00:00:00Z') +
    route('a-same-age', `  rules: [{ matches: [{ path: { type: PathPrefix, value: /name } }] }]`, '2024-01-01T00:00:00Z') +
    route('exact-host', `  hostnames: [api.example.com]\n  rules: [{ matches: [{ path: { type: PathPrefix, value: / } }] }]`) +
    route('wild-host', `  hostnames: ["*.example.com"]\n  rules: [{ matches: [{ path: { type: PathPrefix, value: / } }] }]`) +
    route('root', `  rules: [{ backendRefs: [] }]`),
);

const name = (host: string, path: string, method = 'GET', headers: Record<string, string> = {}, query = '') =>
  r.match(host, path, method, headers, query)?.route.ir.route.name;

test('exact path beats every prefix', () => {
  assert.equal(name('x', '/foo'), 'exact');
});

test('regular expressions come after exact, before prefixes, and match the whole path', () => {
  assert.equal(name('x', '/foo/123'), 'regex');
  assert.equal(name('x', '/foo/123x'), 'prefix-short');
});

test('the longest prefix wins, by path element', () => {
  assert.equal(name('x', '/foo/bar'), 'prefix-long');
  assert.equal(name('x', '/foo/bar/baz'), 'prefix-long');
  assert.equal(name('x', '/foo/barbaz'), 'prefix-short');
  assert.equal(name('x', '/foo/'), 'prefix-short');
  assert.equal(name('x', '/foobar'), 'root', 'a prefix matches whole path elements only');
});

test('a method match beats a plain match of the same path', () => {
  assert.equal(name('x', '/foo/zzz', 'POST'), 'method');
  assert.equal(name('x', '/foo/zzz', 'GET'), 'prefix-short');
});

test('more header matches beat fewer; headers beat query params; names are case-insensitive', () => {
  assert.equal(name('x', '/h', 'GET', { 'x-a': '1', 'x-b': 'bbb' }, 'v=2'), 'two-headers');
  assert.equal(name('x', '/h', 'GET', { 'x-a': '1', 'x-b': 'c' }, 'v=2'), 'one-header');
  assert.equal(name('x', '/h', 'GET', {}, 'v=2'), 'query');
  assert.equal(name('x', '/h', 'GET', {}, 'v=3'), 'root');
});

test('ties go to the oldest route, then to namespace/name', () => {
  assert.equal(name('x', '/tie'), 'older');
  assert.equal(name('x', '/name'), 'a-same-age');
});

test('the most specific hostname selects the routes, with no fallthrough (as Envoy virtual hosts)', () => {
  assert.equal(name('api.example.com', '/foo'), 'exact-host');
  assert.equal(name('www.example.com', '/foo'), 'wild-host');
  assert.equal(name('a.b.example.com', '/anything'), 'wild-host');
  assert.equal(name('example.com', '/foo'), 'exact', 'a wildcard does not match the bare domain');
});

test('1000 routes index: the last-declared route is found without a scan', () => {
  let y = GW;
  for (let i = 0; i < 1000; i++) y += route(`r${i}`, `  hostnames: [h${i % 7}.example.com]\n  rules: [{ matches: [{ path: { type: ${i % 2 ? 'Exact' : 'PathPrefix'}, value: /svc/${i} } }] }]`);
  const big = routerFor(y);
  assert.equal(big.match('h5.example.com', '/svc/999', 'GET', {}, '')?.route.ir.route.name, 'r999');
  assert.equal(big.match('h4.example.com', '/svc/998/x', 'GET', {}, '')?.route.ir.route.name, 'r998');
  assert.equal(big.match('h0.example.com', '/svc/999', 'GET', {}, ''), undefined, 'wrong host');
});
