// Istio's deny-all / allow-all policies over real sockets (examples/istio/deny-all.yaml),
// and a DENY policy without rules, refused at load time: a reload that brings
// one in is refused and the running configuration keeps answering.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parseAllDocuments } from 'yaml';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { buildFromPaths } from '../src/config/pipeline.ts';
import { formatError } from '../src/resources/errors.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { examplePath, exampleYaml, send } from './helpers/istio-e2e.ts';

let echo: EchoServer;
let gw: TestGateway;
let port = 0;
let yaml = '';

before(async () => {
  echo = await startEcho('v1');
  port = await freePort();
  yaml = exampleYaml('deny-all.yaml', { 8080: port, 9081: echo.port });
  gw = await startGateway(yaml);
});

after(async () => {
  await gw?.close();
  await echo?.close();
});

function without(name: string): string {
  return parseAllDocuments(yaml)
    .filter((d) => (d.toJS() as { metadata: { name: string } }).metadata.name !== name)
    .map((d) => d.toString())
    .join('---\n');
}

test('deny-all wins over allow-all: every method, every path, 403 RBAC: access denied', async () => {
  for (const [method, path] of [['GET', '/ip'], ['POST', '/post'], ['DELETE', '/'], ['OPTIONS', '/x']]) {
    const r = await send(port, path, { method });
    assert.equal(r.status, 403, `${method} ${path}`);
    assert.equal(r.body, 'RBAC: access denied');
  }
});

test('a DENY policy without rules is rejected at load time: the reload is refused, deny-all keeps answering', async () => {
  await gw.write(`${without('deny-all')}---\n${readFileSync(examplePath('invalid-deny-without-rules.yaml'), 'utf8')}`);
  assert.equal(await gw.instance.reload(), false, 'the reload is refused');
  const why = (await buildFromPaths([gw.file], DEFAULT_TRANSLATE_OPTIONS)).errors.map(formatError);
  assert.equal(why.length, 1, why.join('\n'));
  assert.match(why[0], /AuthorizationPolicy\/foo\/deny-all: spec: A DENY policy without rules is invalid/);
  assert.equal((await send(port, '/ip')).status, 403, 'the last good configuration still serves');
});

test('without deny-all, allow-all lets everything through', async () => {
  await gw.write(without('deny-all'));
  assert.equal(await gw.instance.reload(), true);
  const r = await send(port, '/ip', { method: 'PUT', body: 'x' });
  assert.equal(r.status, 200);
  assert.equal(r.json().method, 'PUT');
});
