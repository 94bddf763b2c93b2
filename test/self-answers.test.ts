// Every answer the gateway gives is logged and counted, including the ones
// node's HTTP parser makes before a request exists (431, 400).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startCli, type Running } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';

let gw: Running;
let up: Upstream;
let port: number;
let adminPort: number;

before(async () => {
  up = await startUpstream('up');
  [port, adminPort] = [await freePort(), await freePort()];
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-self-answers-'));
  await writeFile(join(dir, 'gw.yaml'), gatewayYaml(port, { up: up.port }, routeTo('up')));
  gw = startCli(['run', '-f', dir, '--workers', '1', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${adminPort}`, '--max-header-bytes', '4096']);
  await gw.waitFor(/admin on http/);
});

after(async () => {
  await gw?.stop();
  await up?.close();
});

/** Write raw bytes, return the status line of the answer. */
function raw(text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(text));
    let got = '';
    s.on('data', (d) => (got += d));
    s.on('end', () => resolve(got.split('\r\n')[0]));
    s.on('error', reject);
  });
}

async function metrics(): Promise<string> {
  return (await request(`http://127.0.0.1:${adminPort}/metrics`)).body.text();
}

test('the 431 for headers over the limit is in the access log and the metrics', async () => {
  assert.equal(await raw(`GET /x HTTP/1.1\r\nhost: a\r\nx-big: ${'a'.repeat(8000)}\r\n\r\n`), 'HTTP/1.1 431 Request Header Fields Too Large');
  const line = await gw.waitFor(/\{[^\n]*"status":431[^\n]*\}/);
  const entry = JSON.parse(line);
  assert.equal(entry.reason, 'HPE_HEADER_OVERFLOW');
  assert.equal(entry.client, '127.0.0.1');
  assert.match(await metrics(), /^portcullis_requests_total\{route="-",status="431"\} 1$/m);
});

test('a request node cannot parse gets 400, logged and counted', async () => {
  assert.equal(await raw('GET /x HTTP/1.1\r\nbad header line\r\n\r\n'), 'HTTP/1.1 400 Bad Request');
  await gw.waitFor(/"status":400/);
  assert.match(await metrics(), /^portcullis_requests_total\{route="-",status="400"\} 1$/m);
});
