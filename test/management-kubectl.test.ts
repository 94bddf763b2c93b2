// kubectl itself against the management API: apply (client-side, of a
// directory, and --server-side), get -A -o yaml, patch, explain, delete —
// through the kubeconfig the gateway writes into its data directory.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { startManaged, until, type ManagedGateway } from './helpers/management.ts';
import { statusAt } from './helpers/requests.ts';

let gw: ManagedGateway;
let up: Upstream;
let port: number;
let kubeconfig: string;
let dir: string;

// kubectl before 1.27 (Debian's is 1.20) reads OpenAPI v2 in protobuf before every apply and refuses to apply
// without it: the server serves one that lists no schemas (kubectl leaves validation to the server, which
// validates every write itself), and the schemas as OpenAPI v3, which only newer kubectl reads for explain.
const minor = Number((JSON.parse(execFileSync('kubectl', ['version', '--client', '-o', 'json'], { encoding: 'utf8' })) as { clientVersion: { minor: string } }).clientVersion.minor.replace(/\D.*$/, ''));
const OLD_KUBECTL = minor < 27;

function kubectl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile('kubectl', ['--kubeconfig', kubeconfig, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

async function ok(...args: string[]): Promise<string> {
  const r = await kubectl(...args);
  assert.equal(r.code, 0, `kubectl ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

const status = (path: string) => statusAt(port, path);

const policy = (name: string, ns: string, path: string) => `apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  targetRefs:
  - group: gateway.networking.k8s.io
    kind: Gateway
    name: gw
  action: DENY
  rules:
  - to:
    - operation:
        paths: ["${path}"]
`;

before(async () => {
  up = await startUpstream('v1');
  port = await freePort();
  gw = await startManaged(gatewayYaml(port, { v1: up.port }, routeTo('v1')));
  kubeconfig = join(gw.dataDir, 'kubeconfig');
  dir = await mkdtemp(join(tmpdir(), 'portcullis-kubectl-'));
});

after(async () => {
  await gw?.close();
  await up?.close();
});

test('kubectl apply -f a directory, get -A -o yaml, then delete: the gateway follows each step', async () => {
  const policies = join(dir, 'policies');
  await mkdir(policies);
  await writeFile(join(policies, 'a.yaml'), policy('deny-a', 'default', '/a'));
  await writeFile(join(policies, 'b.yaml'), policy('deny-b', 'team-b', '/b') + '---\n' + policy('deny-c', 'default', '/c'));
  const applied = await ok('apply', '-f', policies);
  assert.match(applied, /authorizationpolicy.security.istio.io\/deny-a created/);
  assert.match(applied, /authorizationpolicy.security.istio.io\/deny-c created/);
  await until('the policies to apply', async () => (await status('/a')) === 403 && (await status('/c')) === 403);
  assert.equal(await status('/other'), 200);
  assert.equal(await status('/b'), 200, 'an Istio targetRef reaches only a Gateway of its own namespace');

  const table = await ok('get', 'authorizationpolicies', '-A');
  assert.match(table, /NAMESPACE\s+NAME\s+ACCEPTED\s+AGE/);
  assert.match(table, /team-b\s+deny-b\s/);
  const yaml = parseYaml(await ok('get', 'authorizationpolicies', '-A', '-o', 'yaml')) as { kind: string; items: { metadata: { name: string; resourceVersion: string } }[] };
  assert.equal(yaml.kind, 'List');
  assert.deepEqual(yaml.items.map((i) => i.metadata.name), ['deny-a', 'deny-c', 'deny-b'], 'by namespace, then name');
  assert.ok(yaml.items.every((i) => /^\d+$/.test(i.metadata.resourceVersion)));

  // Re-applying unchanged files changes nothing; an edited file is patched (merge patch, as kubectl does for CRDs).
  assert.match(await ok('apply', '-f', policies), /deny-a unchanged/);
  await writeFile(join(policies, 'a.yaml'), policy('deny-a', 'default', '/a2'));
  assert.match(await ok('apply', '-f', policies), /deny-a configured/);
  await until('the edit to apply', async () => (await status('/a')) === 200 && (await status('/a2')) === 403);

  assert.match(await ok('delete', '-f', policies), /deny-b" deleted/);
  await until('the policies to lift', async () => (await status('/a2')) === 200 && (await status('/c')) === 200);
  assert.match((await kubectl('get', 'authorizationpolicies', '-A')).stderr, /No resources found/);
});

test('kubectl patch (merge and json), apply --server-side with a conflict, and the errors kubectl shows', async () => {
  const file = join(dir, 'p.yaml');
  await writeFile(file, policy('ssa', 'default', '/ssa'));
  assert.match(await ok('apply', '--server-side', '-f', file), /serverside-applied/);
  await until('server-side apply to take effect', async () => (await status('/ssa')) === 403);
  // kubectl 1.20 shows managedFields by default; 1.21 hid them behind --show-managed-fields.
  const managed = JSON.parse(await ok('get', 'authorizationpolicy', 'ssa', '-o', 'json', ...(minor >= 21 ? ['--show-managed-fields'] : [])));
  assert.equal(managed.metadata.managedFields[0].manager, 'kubectl');
  assert.equal(managed.metadata.managedFields[0].operation, 'Apply');

  await ok('patch', 'authorizationpolicy', 'ssa', '--type', 'merge', '-p', '{"spec":{"rules":[{"to":[{"operation":{"paths":["/merged"]}}]}]}}');
  await until('the merge patch', async () => (await status('/merged')) === 403 && (await status('/ssa')) === 200);
  // The merge patch's manager now owns spec.rules: applying the old value again conflicts, --force-conflicts takes it back.
  const conflict = await kubectl('apply', '--server-side', '-f', file);
  assert.notEqual(conflict.code, 0);
  assert.match(conflict.stderr, /conflict/i);
  assert.match(await ok('apply', '--server-side', '--force-conflicts', '-f', file), /serverside-applied/);
  await until('the forced apply', async () => (await status('/ssa')) === 403);

  await ok('patch', 'authorizationpolicy', 'ssa', '--type', 'json', '-p', '[{"op":"replace","path":"/spec/action","value":"ALLOW"}]');
  assert.equal(JSON.parse(await ok('get', 'authorizationpolicy', 'ssa', '-o', 'json')).spec.action, 'ALLOW');

  const bad = await kubectl('patch', 'authorizationpolicy', 'ssa', '--type', 'merge', '-p', '{"spec":{"action":"MAYBE"}}');
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /is invalid: spec\.action/);
  const missing = await kubectl('get', 'authorizationpolicy', 'nope');
  assert.match(missing.stderr, /NotFound|not found/);
  assert.match(await ok('delete', 'authorizationpolicy', 'ssa'), /deleted/);
});

test('kubectl explain reads the schemas that validate (OpenAPI v3)', { skip: OLD_KUBECTL ? `kubectl 1.${minor} reads OpenAPI v2 only` : false }, async () => {
  const explain = await ok('explain', 'authorizationpolicies.spec');
  assert.match(explain, /action/);
  assert.match(explain, /rules/);
  const field = await ok('explain', 'authorizationpolicies.spec.action');
  assert.match(field, /ALLOW/);
});

test('kubectl without credentials is refused; core kinds (ConfigMap) work with the strategic merge patch kubectl sends them', async () => {
  const cfg = join(dir, 'anon-kubeconfig');
  const text = (await import('node:fs')).readFileSync(kubeconfig, 'utf8').replace(/token: .*/, 'token: wrong-token');
  await writeFile(cfg, text);
  const refused = await new Promise<string>((resolve) => execFile('kubectl', ['--kubeconfig', cfg, 'get', 'authorizationpolicies'], (_e, _o, stderr) => resolve(stderr)));
  assert.match(refused, /Unauthorized|provide credentials/);

  const cm = join(dir, 'cm.yaml');
  await writeFile(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: default }\ndata: { a: "1", b: "2" }\n');
  await ok('apply', '-f', cm);
  await writeFile(cm, 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: default }\ndata: { a: "1", c: "3" }\n');
  assert.match(await ok('apply', '-f', cm), /configured/);
  assert.deepEqual(JSON.parse(await ok('get', 'configmap', 'settings', '-o', 'json')).data, { a: '1', c: '3' });
  await ok('delete', '-f', cm);
});
