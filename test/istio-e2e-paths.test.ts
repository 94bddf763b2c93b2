// Path-normalization bypasses over real sockets, in Istio's three modes:
// examples/istio/path-normalization.yaml (DENY /admin, /admin/*) served three
// times (BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES), plus an ALLOW-list
// gateway. Requests are sent byte for byte; for every request that passes, the
// backend must receive exactly the path the policy was matched against.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import type { PathNormalization } from '../src/ir/types.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { exampleYaml, send } from './helpers/istio-e2e.ts';
import { istioSelectorYaml } from './helpers/yaml.ts';

type Mode = Exclude<PathNormalization, 'NONE'>;
const MODES: Mode[] = ['BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

let echo: EchoServer;
const gateways: TestGateway[] = [];
const denyPort = {} as Record<Mode, number>;
let allowPort = 0;

/** A second gateway with an ALLOW list: only /public/* may come in. */
const allowList = (port: number) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: allow-list, namespace: foo }
spec:
  listeners: [{ name: http, port: ${port}, protocol: HTTP }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: allow-list, namespace: foo }
spec:
  parentRefs: [{ name: allow-list }]
  rules: [{ backendRefs: [{ name: httpbin, port: 8000 }] }]
` + istioSelectorYaml('AuthorizationPolicy', 'foo/public-only', 'gateway.networking.k8s.io/gateway-name: allow-list', `rules:
- to:
  - operation:
      paths: ["/public/*"]`);

before(async () => {
  echo = await startEcho('v1');
  for (const mode of MODES) {
    denyPort[mode] = await freePort();
    const extra = mode === 'BASE' ? allowList((allowPort = await freePort())) : '';
    const yaml = exampleYaml('path-normalization.yaml', { 8080: denyPort[mode], 9081: echo.port }) + extra;
    gateways.push(await startGateway(yaml, { translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1', pathNormalization: mode } }));
  }
});

after(async () => {
  for (const g of gateways) await g.close();
  await echo?.close();
});

/**
 * The bypass list: request target → per mode, 403 (denied) or the path the
 * backend receives (allowed: it must be what the policy saw).
 */
const CASES: [string, string, Record<Mode, 403 | string>][] = [
  ['/admin', 'the rule itself', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin/users', 'below it', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/public/../admin', 'dot-dot segment', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin/../admin/users', '/admin/../', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/./admin', 'dot segment', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/%2e%2e/admin', 'encoded dot-dot', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/%61dmin', 'encoded letter', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/public\\..\\admin', 'backslashes', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin?role=admin', 'query', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin#x', 'fragment', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['//admin', 'double slash', { BASE: '//admin', MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin//users', 'inner double slash', { BASE: 403, MERGE_SLASHES: 403, DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin%2Fusers', '%2F', { BASE: '/admin%2Fusers', MERGE_SLASHES: '/admin%2Fusers', DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin%2fusers', '%2f, lowercase hex', { BASE: '/admin%2Fusers', MERGE_SLASHES: '/admin%2Fusers', DECODE_AND_MERGE_SLASHES: 403 }],
  ['/public/..%2Fadmin', 'dot-dot behind %2F', { BASE: '/public/..%2Fadmin', MERGE_SLASHES: '/public/..%2Fadmin', DECODE_AND_MERGE_SLASHES: 403 }],
  ['/admin%5Cusers', '%5C', { BASE: '/admin%5Cusers', MERGE_SLASHES: '/admin%5Cusers', DECODE_AND_MERGE_SLASHES: 403 }],
  ['/%2561dmin', 'double encoding (decoded once only)', { BASE: '/%2561dmin', MERGE_SLASHES: '/%2561dmin', DECODE_AND_MERGE_SLASHES: '/%2561dmin' }],
  ['/ADMIN', 'other case (paths are case-sensitive)', { BASE: '/ADMIN', MERGE_SLASHES: '/ADMIN', DECODE_AND_MERGE_SLASHES: '/ADMIN' }],
  ['/admin;x=1', '; path parameter', { BASE: '/admin;x=1', MERGE_SLASHES: '/admin;x=1', DECODE_AND_MERGE_SLASHES: '/admin;x=1' }],
];

for (const mode of MODES) {
  describe(`${mode}: DENY /admin, /admin/*`, () => {
    for (const [target, what, want] of CASES) {
      const expected = want[mode];
      test(`${target} (${what}) → ${expected === 403 ? '403' : `passes as ${expected}`}`, async () => {
        const r = await send(denyPort[mode], target);
        if (expected === 403) {
          assert.equal(r.status, 403, r.body);
          assert.equal(r.body, 'RBAC: access denied');
        } else {
          assert.equal(r.status, 200, r.body);
          assert.equal(r.json().url, expected, 'the backend gets the path the policy saw');
        }
      });
    }
  });
}

describe('BASE, with an ALLOW list (/public/* only): the spellings a DENY list misses are refused', () => {
  for (const target of ['//admin', '/admin%2Fusers', '/admin%5Cusers', '/ADMIN', '/admin;x=1', '/public/../admin', '/public%2F..%2Fadmin', '/%2561dmin', '/public\\..\\admin']) {
    test(`${target} → 403`, async () => {
      assert.equal((await send(allowPort, target)).status, 403);
    });
  }
  test('/public/..%2Fadmin is under /public/ as written: BASE passes it unchanged (only DECODE_AND_MERGE_SLASHES resolves it)', async () => {
    const r = await send(allowPort, '/public/..%2Fadmin');
    assert.equal(r.status, 200);
    assert.equal(r.json().url, '/public/..%2Fadmin');
  });

  test('/public/x and /public/./x → 200', async () => {
    assert.equal((await send(allowPort, '/public/x')).json().url, '/public/x');
    assert.equal((await send(allowPort, '/public/./x?q=1')).json().url, '/public/x?q=1');
  });
});

describe('paths no mode may serve', () => {
  test('a target that is not a path (no leading slash, control bytes) is 400, never routed', async () => {
    for (const target of ['admin', '*']) {
      const r = await send(denyPort.BASE, target);
      assert.equal(r.status, 400, target);
    }
  });

  test('%00 is refused with 400 (Istio: "the request will always be rejected")', async () => {
    for (const mode of MODES) assert.equal((await send(denyPort[mode], '/admin%00')).status, 400, mode);
  });
});

describe('the mode from Istio\'s mesh config (ConfigMap istio, pathNormalization.normalization)', () => {
  const mesh = (normalization: string) => `---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |-
    pathNormalization:
      normalization: ${normalization}
`;
  const started: { meshOnly: number; flagWins: number } = { meshOnly: 0, flagWins: 0 };
  const mine: TestGateway[] = [];

  before(async () => {
    started.meshOnly = await freePort();
    started.flagWins = await freePort();
    const yaml = (port: number) => exampleYaml('path-normalization.yaml', { 8080: port, 9081: echo.port }) + mesh('MERGE_SLASHES');
    // No --path-normalization: the mesh config decides.
    mine.push(await startGateway(yaml(started.meshOnly), { translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' } }));
    // An explicit --path-normalization wins over the mesh config.
    mine.push(await startGateway(yaml(started.flagWins), { translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1', pathNormalization: 'BASE' } }));
  });

  after(async () => {
    for (const g of mine) await g.close();
  });

  test('MERGE_SLASHES from the mesh config: //admin is denied, and /config says which mode serves', async () => {
    assert.equal((await send(started.meshOnly, '//admin')).status, 403);
    assert.equal((await send(started.meshOnly, '/a//b')).json().url, '/a/b');
    const cfg = (await (await fetch(mine[0].adminUrl + '/config')).json()) as { snapshot?: { listeners: { pathNormalization: string }[] }; listeners?: { pathNormalization: string }[] };
    const listeners = cfg.snapshot?.listeners ?? cfg.listeners ?? [];
    assert.deepEqual(listeners.map((l) => l.pathNormalization), ['MERGE_SLASHES']);
  });

  test('--path-normalization BASE, given explicitly, wins: //admin is another path', async () => {
    const r = await send(started.flagWins, '//admin');
    assert.equal(r.status, 200);
    assert.equal(r.json().url, '//admin');
  });

  test('a normalization Istio does not have stops the configuration (never a silent BASE)', async () => {
    const bad = exampleYaml('path-normalization.yaml', { 8080: await freePort(), 9081: echo.port }) + mesh('MERGE_SLASHES_PLEASE');
    await assert.rejects(startGateway(bad, { translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' } }), (err: { details?: string[] }) => {
      assert.ok(
        err.details?.some((d) => /:\d+ .*ConfigMap\/istio-system\/istio: data\.mesh: pathNormalization\.normalization: must be one of DEFAULT, NONE, BASE, MERGE_SLASHES, DECODE_AND_MERGE_SLASHES/.test(d)),
        String(err.details),
      );
      return true;
    });
  });
});
