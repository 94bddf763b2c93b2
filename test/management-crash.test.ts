// kill -9 in the middle of a stream of writes loses no acknowledged change:
// the SQLite store commits each write (WAL, synchronous=FULL) before the API
// answers. The real CLI process, real sockets, a real SIGKILL.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startCli } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayYaml } from './helpers/gateway.ts';
import { apiClient } from './helpers/management.ts';

const AP = '/apis/security.istio.io/v1/namespaces/default/authorizationpolicies';

test('every write acknowledged before kill -9 is there after the restart', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-crash-'));
  const file = join(dir, 'gw.yaml');
  await writeFile(file, gatewayYaml(await freePort(), {}));
  const adminPort = await freePort();
  const args = ['run', '-f', file, '--workers', '1', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${adminPort}`, '--access-log', 'off', '--data-dir', join(dir, 'data')];
  let gw = startCli(args);
  try {
    await gw.waitFor(/management API on/, 60_000);
    const api = apiClient(`http://127.0.0.1:${adminPort}`, (await readFile(join(dir, 'data', 'admin-token'), 'utf8')).trim());
    const acked = new Set<string>();
    let stop = false;
    let n = 0;
    const writer = async () => {
      while (!stop) {
        const name = `p-${n++}`;
        try {
          const r = await api.call('POST', AP, {
            apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name },
            spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: [`/${name}`] } }] }] },
          });
          if (r.status === 201) acked.add(name);
        } catch {
          return; // the connection died with the process
        }
      }
    };
    const writers = Array.from({ length: 6 }, writer);
    while (acked.size < 150) await new Promise((r) => setTimeout(r, 5));
    gw.child.kill('SIGKILL');
    stop = true;
    await Promise.all(writers);
    await gw.stop();
    assert.ok(n > acked.size, 'writes were in flight when the process died');

    gw = startCli(args);
    await gw.waitFor(/management API on/, 60_000);
    const names = new Set<string>();
    let cont = '';
    do {
      const r = await api.call('GET', `${AP}?limit=100${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`);
      assert.equal(r.status, 200);
      for (const i of r.body.items) names.add(i.metadata.name);
      cont = r.body.metadata.continue ?? '';
    } while (cont);
    const lost = [...acked].filter((a) => !names.has(a));
    assert.deepEqual(lost, [], `${acked.size} acknowledged, ${names.size} stored`);
    // The store goes on from where it was: new writes get newer resourceVersions.
    const after = await api.call('POST', AP, { apiVersion: 'security.istio.io/v1', kind: 'AuthorizationPolicy', metadata: { name: 'after-restart' }, spec: { action: 'DENY', rules: [{ to: [{ operation: { paths: ['/x'] } }] }] } });
    assert.equal(after.status, 201);
    const list = await api.call('GET', `${AP}?limit=1`);
    assert.equal(list.body.metadata.resourceVersion, after.body.metadata.resourceVersion);
  } finally {
    await gw.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
