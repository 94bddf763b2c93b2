// The configuration controller reads the -f files when they changed (a watch event,
// once they settle) or when asked, never because the management API's store changed:
// a store change used to re-read the files at once, so an editor's write in progress
// (a truncated file) could be built and served, closing the Gateway's listener.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigController } from '../src/runtime/config-controller.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import type { BuildResult } from '../src/config/pipeline.ts';
import { request } from 'undici';
import { gatewayYaml, routeTo, startGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';

test('a store change rebuilds with the files as last read; reloadFiles() reads them again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-controller-'));
  try {
    const file = join(dir, 'gw.yaml');
    await writeFile(file, gatewayYaml(18080, { up: 19999 }, routeTo('up')));
    let stored = 0;
    const c = new ConfigController([file], { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' }, () => (stored++, []));
    const first = await c.build();
    assert.equal(first.snapshot?.listeners.length, 1);

    // An editor is half-way through writing the file when an API write arrives.
    await writeFile(file, '');
    const built = new Promise<BuildResult>((resolve) => c.setOnChange(async () => resolve(await c.build())));
    c.changed();
    const afterStore = await built;
    assert.ok(stored >= 2, 'the store was read again');
    assert.equal(afterStore.snapshot?.listeners.length, 1, 'the Gateway from the files is still there');
    assert.equal(afterStore.snapshot?.version, first.snapshot?.version);

    c.reloadFiles();
    const reread = await c.build();
    assert.equal(reread.snapshot?.listeners.length, 0, 'an explicit reload reads the files as they are now');
    c.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('a reload that changes only what the status says (same IR) shows the new status in /config', async () => {
  const up = 19999;
  const route = (parent: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: orphan, namespace: default }
spec: { parentRefs: [{ name: ${parent} }], rules: [{}] }
`;
  const port = await freePort();
  const gw = await startGateway(gatewayYaml(port, { up }, routeTo('up')) + route('missing-a'));
  try {
    const message = async () => {
      const cfg = (await (await request(`${gw.adminUrl}/config`)).body.json()) as { version: string; status: { object: string; parents?: { conditions: { message: string }[] }[]; conditions: { message: string }[] }[] };
      const st = cfg.status.find((x) => x.object === 'HTTPRoute/default/orphan');
      return { version: cfg.version, text: JSON.stringify(st) };
    };
    const before = await message();
    assert.match(before.text, /missing-a/);
    await gw.write(gatewayYaml(port, { up }, routeTo('up')) + route('missing-b'));
    assert.equal(await gw.instance.reload(), true);
    const after = await message();
    assert.equal(after.version, before.version, 'the IR did not change');
    assert.match(after.text, /missing-b/);
    assert.doesNotMatch(after.text, /missing-a/);
  } finally {
    await gw.close();
  }
});
