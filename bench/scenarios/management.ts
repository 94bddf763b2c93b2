// The management API at scale: 10,000 stored AuthorizationPolicies (SQLite
// store), a full list through limit/continue paging, and how long a policy
// written through the API takes to be enforced by the data plane (and its
// deletion to be lifted) at that size. In-process gateway, real sockets.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startSingle } from '../../src/runtime/single.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../../src/translate/index.ts';
import { SqliteStore } from '../../src/store/sqlite.ts';
import { objectKey } from '../../src/admin/api/objects.ts';
import { findKind } from '../../src/resources/kinds/index.ts';
import type { BenchContext } from '../context.ts';
import type { ManagementScenario, ScenarioResult } from '../results.ts';
import { freePort } from '../net.ts';

const POLICIES = 10_000;
const PAGE = 500;
const TARGET_MS = 1000;

function policy(name: string, path: string, namespace = 'default') {
  return {
    apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy',
    metadata: { name, namespace, uid: name, creationTimestamp: '2026-01-01T00:00:00Z', generation: 1 },
    spec: { targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }], action: 'DENY', rules: [{ to: [{ operation: { paths: [path] } }] }] },
  };
}

async function timeUntil(probe: () => Promise<boolean>, timeoutMs = 10_000): Promise<number | null> {
  const t0 = performance.now();
  while (performance.now() - t0 < timeoutMs) {
    if (await probe()) return performance.now() - t0;
    await new Promise((r) => setTimeout(r, 5));
  }
  return null;
}

export async function managementScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const title = `management API, ${POLICIES.toLocaleString('en-US')} stored AuthorizationPolicies`;
  ctx.log(`\n▶ ${title}`);
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-bench-mgmt-'));
  const dataDir = join(dir, 'data');
  // Seeded straight into the store (the API would take minutes to take 10,000 POSTs on a shared machine);
  // the policies sit in other namespaces, so they are stored, listed and translated but select no route here.
  const info = findKind('security.istio.io/v1', 'AuthorizationPolicy')!;
  const seed = new SqliteStore(dataDir);
  const seedStart = performance.now();
  for (let i = 0; i < POLICIES; i++) {
    const ns = `team-${i % 100}`;
    await seed.create(objectKey(info, ns, `p-${i}`), policy(`p-${i}`, `/p/${i}`, ns) as never);
  }
  const seedMs = performance.now() - seedStart;
  await seed.close();

  const port = await freePort();
  const file = join(dir, 'gw.yaml');
  await writeFile(file, `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec: { gatewayClassName: portcullis, listeners: [{ name: http, protocol: HTTP, port: ${port} }] }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: up, namespace: default }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: ${ctx.upstream.ports.target} } }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec: { parentRefs: [{ name: gw }], rules: [{ backendRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: up }] }] }
`);
  const startedAt = performance.now();
  const inst = await startSingle({
    paths: [file], watch: false, admin: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', accessLog: 'off', workers: 1, drainMs: 500, print: () => {},
    translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' },
    management: { dataDir, store: 'sqlite', allowAnonymous: false, audit: 'file' },
  });
  const startMs = performance.now() - startedAt;
  try {
    const admin = `http://127.0.0.1:${(inst.admin.address() as { port: number }).port}`;
    const token = (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
    const call = async (method: string, path: string, body?: unknown) => {
      const r = await request(admin + path, { method: method as 'GET', headers, body: body === undefined ? undefined : JSON.stringify(body) });
      return { status: r.statusCode, body: (await r.body.json()) as any };
    };
    const status = async (path: string) => {
      const r = await request(`http://127.0.0.1:${port}${path}`);
      await r.body.dump();
      return r.statusCode;
    };
    // A full list, page by page, across namespaces.
    const listStart = performance.now();
    let cont = '';
    let items = 0;
    let pages = 0;
    let firstPageMs = 0;
    do {
      const t = performance.now();
      const r = await call('GET', `/apis/security.istio.io/v1/authorizationpolicies?limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      if (pages === 0) firstPageMs = performance.now() - t;
      if (r.status !== 200) throw new Error(`list answered ${r.status}`);
      items += r.body.items.length;
      cont = r.body.metadata.continue ?? '';
      pages++;
    } while (cont);
    const listMs = performance.now() - listStart;
    if (items !== POLICIES) throw new Error(`listed ${items} of ${POLICIES}`);
    // The same list in one answer (kubectl get -A without --chunk-size).
    const fullStart = performance.now();
    const full = await call('GET', '/apis/security.istio.io/v1/authorizationpolicies');
    const fullListMs = performance.now() - fullStart;
    if (full.status !== 200 || full.body.items.length !== POLICIES) throw new Error(`the unpaged list answered ${full.status} with ${full.body.items?.length} items`);

    // Warm-up (the authorization filter's code loads on first use), then the timed changes.
    const path = '/apis/security.istio.io/v1/namespaces/default/authorizationpolicies';
    await call('POST', path, policy('warm', '/warm'));
    if ((await timeUntil(async () => (await status('/warm')) === 403)) === null) throw new Error('the warm-up policy was never enforced');
    const applyRuns: (number | null)[] = [];
    const liftRuns: (number | null)[] = [];
    for (let i = 0; i < 3; i++) {
      const created = await call('POST', path, policy(`bench-${i}`, `/bench-${i}`));
      if (created.status !== 201) throw new Error(`create answered ${created.status}`);
      applyRuns.push(await timeUntil(async () => (await status(`/bench-${i}`)) === 403));
      await call('DELETE', `${path}/bench-${i}`);
      liftRuns.push(await timeUntil(async () => (await status(`/bench-${i}`)) === 200));
    }
    const worst = Math.max(...[...applyRuns, ...liftRuns].map((x) => x ?? Infinity));
    const result: ManagementScenario = {
      kind: 'management', id: 'management', title, target: `list all (paged and unpaged) ≪ 1 s; a change enforced < ${TARGET_MS} ms`,
      verdict: listMs < TARGET_MS && fullListMs < TARGET_MS && worst < TARGET_MS ? 'PASS' : 'MISS',
      notes: [`seeded in ${Math.round(seedMs)} ms (one transaction per write); start with ${POLICIES} stored objects ${Math.round(startMs)} ms`],
      policies: POLICIES, pageSize: PAGE, pages, listMs, firstPageMs, fullListMs, applyMs: applyRuns, liftMs: liftRuns,
    };
    ctx.log(`  list of ${items} in ${pages} pages: ${Math.round(listMs)} ms (first page ${Math.round(firstPageMs)} ms), unpaged ${Math.round(fullListMs)} ms; apply ${applyRuns.map((x) => (x === null ? '-' : Math.round(x))).join('/')} ms, lift ${liftRuns.map((x) => (x === null ? '-' : Math.round(x))).join('/')} ms`);
    return [result];
  } finally {
    await inst.close();
    await rm(dir, { recursive: true, force: true });
  }
}
