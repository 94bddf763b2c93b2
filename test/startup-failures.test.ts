// `run` startup failures: a port that is taken (listener or admin) or a
// certificate that does not load stops the start with one clear line and exit
// 1, with one worker or several; a reload that cannot bind keeps serving.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { spawn } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { BIN, startCli } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayYaml, routeTo } from './helpers/gateway.ts';
import { startUpstream } from './helpers/upstream.ts';
import { makeCa, issueServerCert } from './helpers/certs.ts';
import { gatewayDoc, httpsListener, tlsSecretYaml } from './helpers/yaml.ts';

const taken: net.Server[] = [];
after(() => { for (const s of taken) s.close(); });

/** A port some other program holds. */
async function takenPort(): Promise<number> {
  const port = await freePort();
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve));
  taken.push(s);
  return port;
}

async function configFile(yaml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-startup-'));
  const file = join(dir, 'config.yaml');
  await writeFile(file, yaml);
  return file;
}

/** Run the CLI; a run that does not exit within the deadline is a hang, and fails the test. */
function runUntilExit(args: string[], ms = 30_000): Promise<{ code: number | null; stderr: string; hung: boolean }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let hung = false;
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => { hung = true; child.kill('SIGKILL'); }, ms);
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stderr, hung }); });
  });
}

const run = (file: string, workers: number, admin: string) =>
  runUntilExit(['run', '-f', file, '--workers', String(workers), '--bind', '127.0.0.1', '--admin', admin, '--access-log', 'off']);

/** Exit 1, and stderr is exactly one line (no stack, no JSON log). */
function assertOneLine(r: { code: number | null; stderr: string; hung: boolean }, re: RegExp): void {
  assert.equal(r.hung, false, `hung; stderr so far:\n${r.stderr}`);
  assert.equal(r.code, 1, r.stderr);
  const lines = r.stderr.trimEnd().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], re);
}

for (const workers of [1, 2]) {
  test(`a listener port already in use exits 1 with one line (--workers ${workers})`, async () => {
    const port = await takenPort();
    const file = await configFile(gatewayYaml(port, {}));
    assertOneLine(await run(file, workers, '127.0.0.1:0'), new RegExp(`^portcullis run: cannot listen on 127\\.0\\.0\\.1:${port}: address already in use$`));
  });

  test(`an admin port already in use exits 1 with one line (--workers ${workers})`, async () => {
    const admin = await takenPort();
    const file = await configFile(gatewayYaml(await freePort(), {}));
    assertOneLine(await run(file, workers, `127.0.0.1:${admin}`), new RegExp(`^portcullis run: cannot open the admin listener on 127\\.0\\.0\\.1:${admin}: address already in use$`));
  });
}

test('a certificate that does not load exits 1 with one line naming the Secret, whatever the worker count', async () => {
  const ca = await makeCa();
  const a = await issueServerCert(ca, { hostnames: ['a.example.com'] });
  const b = await issueServerCert(ca, { hostnames: ['a.example.com'] });
  const gw = (certPem: string, keyPem: string, port: number) => gatewayDoc([httpsListener('https', port)]) + tlsSecretYaml('cert', { certPem, keyPem });
  const garbage = await configFile(gw('-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n', a.keyPem, await freePort()));
  const mismatched = await configFile(gw(a.certPem, b.keyPem, await freePort()));
  for (const workers of [1, 2]) {
    assertOneLine(await run(garbage, workers, '127.0.0.1:0'), /^portcullis run: Gateway\/default\/gw listener https: Secret default\/cert: invalid certificate or key/);
    assertOneLine(await run(mismatched, workers, '127.0.0.1:0'), /^portcullis run: the certificate of Secret\/default\/cert for port \d+ does not load: .*key values mismatch/);
  }
});

test('under --watch, a reload that cannot bind keeps the old listeners and says so (2 workers)', async () => {
  const up = await startUpstream('up');
  const port = await freePort();
  const busy = await takenPort();
  const yaml = (ports: number[]) => gatewayYaml(port, { up: up.port }).replace(
    `    - { name: http, protocol: HTTP, port: ${port} }\n`,
    ports.map((p, i) => `    - { name: http${i}, protocol: HTTP, port: ${p} }\n`).join(''),
  ) + routeTo('up');
  const file = await configFile(yaml([port]));
  const adminPort = await freePort();
  const gw = startCli(['run', '-f', file, '--watch', '--workers', '2', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${adminPort}`, '--access-log', 'off']);
  try {
    await gw.waitFor(/admin on http/);
    await writeFile(file, yaml([port, busy]));
    await gw.waitFor(/configuration rejected; the previous one keeps serving/);
    assert.match(gw.output(), new RegExp(`cannot listen on 127\\.0\\.0\\.1:${busy}: address already in use`));
    const r = await request(`http://127.0.0.1:${port}/x`);
    assert.equal(r.statusCode, 200, 'the old listener still serves');
    await r.body.dump();
  } finally {
    await gw.stop();
    await up.close();
  }
});
