// istio.io/dry-run: "true" — the policy is evaluated on real traffic, its
// would-be decision logged, counted and explained, and never enforced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { runCli, startCli, type Running } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let gw: Running;
let up: Upstream;
let port: number;
let adminPort: number;
let file: string;

/** An AuthorizationPolicy on Gateway gw marked dry-run, with one rule to `operation`. */
const dryRun = (name: string, action: string, operation: string) => `---
apiVersion: security.istio.io/v1
kind: AuthorizationPolicy
metadata:
  name: ${name}
  namespace: default
  annotations: { istio.io/dry-run: "true" }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: gw }]
  action: ${action}
  rules: [{ to: [{ operation: ${operation} }] }]
`;
const POLICIES = dryRun('no-admin', 'DENY', '{ paths: ["/admin*"] }') + dryRun('only-get', 'ALLOW', '{ methods: ["GET"] }');

before(async () => {
  up = await startUpstream('up');
  [port, adminPort] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-dry-run-'));
  file = join(dir, 'gw.yaml');
  await writeFile(file, gatewayYaml(port, { up: up.port }, routeTo('up') + POLICIES));
  gw = startCli(['run', '-f', file, '--workers', '2', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${adminPort}`]);
  await gw.waitFor(/listening on http/, 90_000);
});

after(async () => {
  await gw?.stop();
  await up?.close();
});

async function send(method: string, path: string, id: string): Promise<number> {
  const r = await request(`http://127.0.0.1:${port}${path}`, { method, headers: { 'x-request-id': id } });
  await r.body.dump();
  return r.statusCode;
}

test('a dry-run DENY that matches lets the request through, and says what it would have done', async () => {
  assert.equal(await send('GET', '/admin/users', 'dry-1'), 200, 'not enforced');
  const entry = JSON.parse(await gw.waitFor(/\{[^\n]*"request_id":"dry-1"[^\n]*\}/));
  assert.equal(entry.status, 200);
  assert.deepEqual(entry.dry_run, [
    { policy: 'AuthorizationPolicy/default/no-admin', decision: 'deny' },
    { policy: 'AuthorizationPolicy/default/only-get', decision: 'allow' },
  ]);
});

test('a dry-run ALLOW that no rule matches would deny; the request is served', async () => {
  assert.equal(await send('POST', '/x', 'dry-2'), 200);
  const entry = JSON.parse(await gw.waitFor(/\{[^\n]*"request_id":"dry-2"[^\n]*\}/));
  assert.deepEqual(entry.dry_run, [
    { policy: 'AuthorizationPolicy/default/no-admin', decision: 'allow' },
    { policy: 'AuthorizationPolicy/default/only-get', decision: 'deny' },
  ]);
});

test('the would-be decisions are counted per policy and decision (summed over the workers)', async () => {
  const text = await (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
  const count = (policy: string, decision: string) =>
    Number(new RegExp(`^portcullis_dry_run_decisions_total\\{policy="AuthorizationPolicy/default/${policy}",decision="${decision}"\\} (\\d+)$`, 'm').exec(text)?.[1]);
  assert.equal(count('no-admin', 'deny'), 1);
  assert.equal(count('no-admin', 'allow'), 1);
  assert.equal(count('only-get', 'deny'), 1);
  assert.equal(count('only-get', 'allow'), 1);
  assert.match(text, /^# TYPE portcullis_dry_run_decisions_total counter$/m);
});

test('explain shows the dry-run decision next to the answer it did not change', async () => {
  const r = await runCli(['explain', '-f', file, '--request', `GET http://localhost:${port}/admin`]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^ {2}info +istio\.authorization \[AuthorizationPolicy\/default\/no-admin\]: rule 0 matched \(DENY, dry-run: would deny\) on Gateway\/default\/gw$/m);
  assert.match(r.stdout, /^answer: proxied to Backend\/default\/up/m);
});
