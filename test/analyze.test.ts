// portcullis analyze: the examples of examples/analyze, each check family,
// the same findings in validate (warnings; errors with --strict) and /config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli } from './helpers/cli.ts';
import { startGateway, gatewayYaml, routeTo } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { buildFromPaths } from '../src/config/pipeline.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { analyze, type Finding } from '../src/analyze/index.ts';

const example = (name: string) => fileURLToPath(new URL(`../examples/analyze/${name}`, import.meta.url));

async function findingsOf(yaml: string, pathNormalization?: 'NONE'): Promise<Finding[]> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-analyze-'));
  const file = join(dir, 'c.yaml');
  await writeFile(file, yaml);
  const r = await buildFromPaths([file], { ...DEFAULT_TRANSLATE_OPTIONS, pathNormalization });
  assert.ok(r.snapshot, JSON.stringify(r.errors));
  return analyze({ snapshot: r.snapshot, resources: r.resources });
}

const policy = (name: string, action: string, rules: string, extra = '') => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  action: ${action}
  rules: ${rules}
${extra}`;

test('examples/analyze/dead-selector.yaml: PC1001 with the labels wanted and those that exist; exit 1', async () => {
  const r = await runCli(['analyze', '-f', example('dead-selector.yaml')]);
  assert.equal(r.code, 1, r.stdout + r.stderr);
  assert.match(r.stdout, /^error PC1001 \S*examples\/analyze\/dead-selector\.yaml:\d+ AuthorizationPolicy\/default\/require-jwt: selector \{istio: ingressgateway\} selects no Gateway or workload served here; labels that exist: Gateway\/default\/api \{gateway\.networking\.k8s\.io\/gateway-name: api\}$/m);
  assert.match(r.stdout, /^ {2}fix: use targetRefs to the Gateway/m);
  const json = await runCli(['analyze', '-f', example('dead-selector.yaml'), '--format', 'json']);
  const { findings } = JSON.parse(json.stdout) as { findings: Finding[] };
  assert.deepEqual(findings.map((f) => [f.code, f.level, f.object]), [['PC1001', 'error', 'AuthorizationPolicy/default/require-jwt']]);
  assert.match(findings[0].at!, /dead-selector\.yaml:\d+$/);
});

test('examples/analyze/shadowed-allow.yaml: PC2001, the ALLOW rule and the DENY that shadows it; exit 0', async () => {
  const r = await runCli(['analyze', '-f', example('shadowed-allow.yaml')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^warning PC2001 \S+shadowed-allow\.yaml:\d+ AuthorizationPolicy\/default\/reports: rule 1 \(paths \/admin\/reports\) is shadowed by AuthorizationPolicy\/default\/no-admin rule 0 \(DENY \/admin\*\)/m);
  assert.doesNotMatch(r.stdout, /rule 0 \(paths \/public\*\)/, 'the unshadowed rule is not reported');
});

test('examples/analyze/wide-open-sibling.yaml: PC3001 on the route left open', async () => {
  const r = await runCli(['analyze', '-f', example('wide-open-sibling.yaml')]);
  assert.equal(r.code, 0, r.stdout + r.stderr);
  assert.match(r.stdout, /^warning PC3001 \S+wide-open-sibling\.yaml:\d+ HTTPRoute\/default\/users: rule 0 is reachable without authentication, while default\/orders\/0/m);
  assert.doesNotMatch(r.stdout, /HTTPRoute\/default\/orders:/);
});

test('validate reports unresolved references, routes attached to nothing and listeners that reject every route, with file:line; --strict exits 1', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-validate-refs-'));
  const file = join(dir, 'c.yaml');
  await writeFile(file, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: x
  listeners:
    - { name: http, protocol: HTTP, port: 8080 }
    - { name: grpc-only, protocol: HTTP, port: 8081, allowedRoutes: { kinds: [{ kind: GRPCRoute }] } }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: no-service }
spec:
  parentRefs: [{ name: gw, sectionName: http }]
  rules: [{ backendRefs: [{ name: missing, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: no-gateway }
spec:
  parentRefs: [{ name: nope }]
  rules: [{ backendRefs: [{ name: missing, port: 80 }] }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: refused }
spec:
  parentRefs: [{ name: gw, sectionName: grpc-only }]
  rules: [{ backendRefs: [{ name: missing, port: 80 }] }]
`);
  const r = await runCli(['validate', '-f', file]);
  assert.equal(r.code, 0, r.stdout);
  assert.match(r.stdout, /^warning: \S+c\.yaml:1[3-5] HTTPRoute\/default\/no-service: PC0101 Service default\/missing not found/m);
  assert.match(r.stdout, /^warning: \S+c\.yaml:(2[0-2]) HTTPRoute\/default\/no-gateway: PC0102 attached to no listener/m);
  assert.match(r.stdout, /^warning: \S+c\.yaml:\d+ Gateway\/default\/gw: PC0103 listener grpc-only rejects every route that names it \(HTTPRoute\/default\/refused\)/m);
  assert.match(r.stdout, /^ok: 4 resource\(s\) in 1 file\(s\), .*warning\(s\)/m);
  const strict = await runCli(['validate', '-f', file, '--strict']);
  assert.equal(strict.code, 1, strict.stdout);
  assert.match(strict.stdout, /^error: \S+c\.yaml:\d+ HTTPRoute\/default\/no-service: PC0101/m);
});

test('PC2002: a method list emptied by notMethods, a request.auth key on a hop without a JWT provider', async () => {
  const f = await findingsOf(gatewayYaml(8080, { up: 9081 }, routeTo('up') + policy('p', 'ALLOW', `
    - to: [{ operation: { methods: ["GET"], notMethods: ["GET"] } }]
    - when: [{ key: "request.auth.claims[groups]", values: ["admin"] }]`)));
  const msgs = f.filter((x) => x.code === 'PC2002').map((x) => x.message);
  assert.equal(msgs.length, 2, JSON.stringify(f));
  assert.match(msgs[0], /^rule 0 can never match on Gateway\/default\/gw: methods \[GET\] are all in notMethods$/);
  assert.match(msgs[1], /^rule 1 can never match .*request\.auth\.claims\[groups\], and no RequestAuthentication applies on Gateway\/default\/gw/);
});

test('PC3002 an allow-all rule next to narrower ALLOWs; PC3003 NONE normalization under a DENY list', async () => {
  const base = gatewayYaml(8080, { up: 9081 }, routeTo('up'));
  const open = await findingsOf(base + policy('everything', 'ALLOW', '[{}]') + policy('narrow', 'ALLOW', '[{ to: [{ operation: { paths: ["/api*"] } }] }]'));
  assert.deepEqual(open.map((x) => [x.code, x.object]), [['PC3002', 'AuthorizationPolicy/default/everything']]);
  const none = await findingsOf(base + policy('no-admin', 'DENY', '[{ to: [{ operation: { paths: ["/admin*"] } }] }]'), 'NONE');
  assert.deepEqual(none.map((x) => [x.code, x.level]), [['PC3003', 'error']]);
  assert.deepEqual(await findingsOf(base + policy('no-admin', 'DENY', '[{ to: [{ operation: { paths: ["/admin*"] } }] }]')), [], 'BASE: nothing to say');
});

test('the findings are in the admin /config', async () => {
  const port = await freePort();
  const gw = await startGateway(gatewayYaml(port, { up: 9081 }, routeTo('up') + policy('x', 'ALLOW', '[{}]', '').replace(/  targetRefs:.*\n/, '  selector: { matchLabels: { istio: ingressgateway } }\n')));
  try {
    const cfg = (await (await request(gw.adminUrl + '/config')).body.json()) as { lastReload: { findings: Finding[] } };
    assert.deepEqual(cfg.lastReload.findings.map((f) => f.code), ['PC1001']);
  } finally {
    await gw.close();
  }
});
