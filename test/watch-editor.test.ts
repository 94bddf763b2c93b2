// --watch and editors: a file truncated before it is written (what editors
// do on save) is not applied between the two steps; a reload that really
// removes every listener, or every route of a listener, is said so.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startCli, type Running } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let gw: Running;
let v1: Upstream;
let v2: Upstream;
let port: number;
let file: string;
const agent = new Agent({ connections: 4 });
const config = (backend: string, route = true) => gatewayYaml(port, { v1: v1.port, v2: v2.port }, route ? routeTo(backend) : '');

before(async () => {
  [v1, v2] = await Promise.all([startUpstream('v1'), startUpstream('v2')]);
  port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-watch-editor-'));
  file = join(dir, 'gw.yaml');
  await writeFile(file, config('v1'));
  gw = startCli(['run', '-f', file, '--watch', '--workers', '1', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${await freePort()}`, '--access-log', 'off']);
  await gw.waitFor(/admin on http/);
});

after(async () => {
  await gw?.stop();
  await agent.close();
  await Promise.all([v1?.close(), v2?.close()]);
});

async function get(): Promise<string> {
  try {
    const r = await request(`http://127.0.0.1:${port}/x`, { dispatcher: agent });
    await r.body.dump();
    return `${r.statusCode} ${r.headers['x-backend']}`;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code ?? String(err);
  }
}

async function until(cond: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`condition not met in time; output:\n${gw.output()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('a save that truncates the file, then writes it, never takes the listener down', async () => {
  assert.equal(await get(), '200 v1');
  const seen: string[] = [];
  let stop = false;
  const poll = (async () => { while (!stop) seen.push(await get()); })();
  await writeFile(file, '');
  await new Promise((r) => setTimeout(r, 150)); // the editor's second step, after the watcher fired
  await writeFile(file, config('v2'));
  await until(async () => seen.at(-1) === '200 v2');
  stop = true;
  await poll;
  const failed = seen.filter((s) => s !== '200 v1' && s !== '200 v2');
  assert.deepEqual(failed, [], 'every request during the save was served');
  assert.doesNotMatch(gw.output(), /removes every listener/);
});

test('a reload that removes every route of a listener, or every listener, is a warning', async () => {
  await writeFile(file, config('v2', false));
  await gw.waitFor(/removes every route of listener 127\.0\.0\.1:\d+/);
  await until(async () => (await get()).startsWith('404'));
  await writeFile(file, '');
  await gw.waitFor(/removes every listener/);
  const line = gw.output().split('\n').find((l) => l.includes('removes every listener'))!;
  assert.equal(JSON.parse(line).level, 40, 'logged at warn');
  await until(async () => (await get()) === 'ECONNREFUSED');
  await writeFile(file, config('v1'));
  await until(async () => (await get()) === '200 v1');
});

test('run on a configuration with no Gateway warns "no Gateway found"', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-no-gateway-'));
  await writeFile(join(dir, 'routes.yaml'), routeTo('v1'));
  const r = startCli(['run', '-f', dir, '--workers', '1', '--admin', `127.0.0.1:${await freePort()}`]);
  try {
    const line = await r.waitFor(/.*no Gateway found.*/);
    assert.equal(JSON.parse(line).level, 40);
  } finally {
    await r.stop();
  }
});
