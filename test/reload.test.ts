// Hot reload: a watched file change takes effect without a restart, no request
// fails across it, and a broken edit never replaces the running configuration.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Agent, request } from 'undici';
import { startGateway, gatewayYaml, routeTo, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';

let gw: TestGateway;
let v1: Upstream;
let v2: Upstream;
let port: number;
const agent = new Agent({ connections: 8 });

before(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  port = await freePort();
  gw = await startGateway(gatewayYaml(port, { v1: v1.port, v2: v2.port }, routeTo('v1')), { watch: true });
});

after(async () => {
  await gw?.close();
  await agent.close();
  await Promise.all([v1?.close(), v2?.close()]);
});

async function backend(): Promise<{ status: number; name: string | undefined }> {
  const r = await request(`http://127.0.0.1:${port}/x`, { dispatcher: agent });
  await r.body.dump();
  return { status: r.statusCode, name: r.headers['x-backend'] as string | undefined };
}

async function config(): Promise<{ version: string; lastReload: { ok: boolean; errors: string[] } }> {
  return (await (await request(gw.adminUrl + '/config')).body.json()) as never;
}

async function until(cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('an edit under --watch switches the backend with no failed request under load', async () => {
  assert.equal((await backend()).name, 'v1');
  let stop = false;
  const answers: { status: number; name: string | undefined }[] = [];
  const load = Promise.all(Array.from({ length: 4 }, async () => {
    while (!stop) answers.push(await backend());
  }));
  // Load before the edit, across it, and after the switch is seen: a fixed count on each side, not a race.
  await until(async () => answers.length >= 20);
  await gw.write(gatewayYaml(port, { v1: v1.port, v2: v2.port }, routeTo('v2')));
  await until(async () => (await backend()).name === 'v2');
  const seenSwitch = answers.length;
  await until(async () => answers.length >= seenSwitch + 20);
  stop = true;
  await load;
  assert.deepEqual([...new Set(answers.map((a) => a.status))], [200], 'every request across the reload succeeded');
  const names = answers.map((a) => a.name);
  assert.equal(names[0], 'v1');
  assert.equal(names.at(-1), 'v2');
  // Once v2 answers, v1 never answers again (requests in flight finish on the old snapshot, new ones take the new).
  const firstV2 = names.indexOf('v2');
  assert.ok(names.slice(firstV2 + 8).every((n) => n === 'v2'), 'no return to the old backend after the switch');
});

test('a broken file keeps the old configuration serving and reports why', async () => {
  const good = await config();
  await gw.write(gatewayYaml(port, { v1: v1.port, v2: v2.port }, routeTo('v1')) + '\n  bad: [unclosed\n');
  await until(async () => (await config()).lastReload.ok === false);
  const after = await config();
  assert.equal(after.version, good.version, 'the running snapshot did not change');
  assert.match(after.lastReload.errors.join('\n'), /config\.yaml:\d+ .*invalid YAML/);
  assert.equal((await backend()).name, 'v2', 'still serving the last good configuration');
  // an invalid value (not YAML syntax) is also refused
  await gw.write(gatewayYaml(port, { v1: v1.port, v2: v2.port }, routeTo('v1')).replace(`port: ${port}`, 'port: 99999'));
  await until(async () => (await config()).lastReload.errors.some((e) => e.includes('99999') || e.includes('port')));
  assert.equal((await backend()).name, 'v2');
  // and fixing the file recovers
  await gw.write(gatewayYaml(port, { v1: v1.port, v2: v2.port }, routeTo('v1')));
  await until(async () => (await backend()).name === 'v1');
  assert.equal((await config()).lastReload.ok, true);
});
