// Status per parent (routes) and per ancestor (policies), typed reasons, and
// observedGeneration, through the real resources → translate path and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseYamlResources } from '../src/resources/load.ts';
import { buildFromResources } from '../src/config/pipeline.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { runCli } from './helpers/cli.ts';

const CONFIG = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: open, namespace: apps, generation: 3 }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: http, protocol: HTTP, port: 80, allowedRoutes: { namespaces: { from: All } } }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: closed, namespace: infra }
spec:
  gatewayClassName: portcullis
  listeners: [{ name: http, protocol: HTTP, port: 80, hostname: closed.test }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: shop, namespace: apps, generation: 7 }
spec:
  parentRefs:
  - { name: open }
  - { name: closed, namespace: infra }
  - { name: ghost }
  rules: [{ backendRefs: [{ name: missing, port: 80 }] }]
`;

const load = (text: string) => parseYamlResources(text, 'config.yaml').resources.map((r, i) => ({ ...r, seq: i }));

test('an HTTPRoute accepted on one Gateway and refused by another says so, per parentRef, with typed reasons', () => {
  const r = buildFromResources(load(CONFIG), DEFAULT_TRANSLATE_OPTIONS);
  assert.deepEqual(r.errors, []);
  const shop = r.snapshot?.status.find((s) => s.object === 'HTTPRoute/apps/shop');
  assert.ok(shop);
  assert.equal(shop.observedGeneration, 7);
  assert.equal(shop.accepted, false, 'not accepted everywhere');
  const byParent = new Map(shop.parents?.map((p) => [`${p.parentRef.namespace}/${p.parentRef.name}/${p.parentRef.sectionName ?? ''}`, p.conditions]));
  assert.deepEqual(byParent.get('apps/open/')?.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=True/Accepted', 'ResolvedRefs=False/BackendNotFound']);
  assert.deepEqual(byParent.get('infra/closed/')?.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=False/NotAllowedByListeners']);
  assert.deepEqual(byParent.get('apps/ghost/')?.map((c) => `${c.type}=${c.status}/${c.reason}`), ['Accepted=False/NoMatchingParent']);
  // The route serves where it was accepted.
  assert.equal(r.snapshot?.listeners[0].routes.length, 1);
  assert.equal(r.snapshot?.status.find((s) => s.object === 'Gateway/apps/open')?.observedGeneration, 3);
  assert.equal(r.snapshot?.status.find((s) => s.object === 'Gateway/infra/closed')?.observedGeneration, undefined, 'no generation in the file, none invented');
});

test('validate --status prints each parent with its conditions, and the refusals name the parent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-status-'));
  writeFileSync(join(dir, 'config.yaml'), CONFIG);
  const withStatus = await runCli(['validate', '-f', dir, '--status']);
  assert.equal(withStatus.code, 0, withStatus.stdout + withStatus.stderr);
  assert.match(withStatus.stdout, /^rejected: HTTPRoute\/apps\/shop \(generation 7\)$/m);
  assert.match(withStatus.stdout, /^ {2}parent Gateway\/apps\/open:\n {4}Accepted=True Accepted: attached to 1 listener\(s\)\n {4}ResolvedRefs=False BackendNotFound: Service apps\/missing not found$/m);
  assert.match(withStatus.stdout, /^ {2}parent Gateway\/infra\/closed:\n {4}Accepted=False NotAllowedByListeners: /m);
  const plain = await runCli(['validate', '-f', dir]);
  assert.match(plain.stdout, /^rejected: HTTPRoute\/apps\/shop: apps\/open: BackendNotFound: Service apps\/missing not found; infra\/closed: NotAllowedByListeners: .*; apps\/ghost: NoMatchingParent: /m);
});
