// The CLI as users run it: validate's errors, run's quickstart, version, help.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './helpers/cli.ts';

test('version and help', async () => {
  const v = await runCli(['version']);
  assert.equal(v.code, 0);
  assert.match(v.stdout, /^portcullis \d+\.\d+\.\d+/);
  for (const cmd of ['run', 'validate', 'explain', 'echo']) {
    const h = await runCli([cmd, '--help']);
    assert.equal(h.code, 0, `${cmd} --help`);
    assert.match(h.stdout, new RegExp(`Usage: portcullis ${cmd}`));
  }
  const bad = await runCli(['frobnicate']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /unknown command/);
  const badFlag = await runCli(['run', '--no-such-flag']);
  assert.equal(badFlag.code, 2);
});

test('validate prints every error with file, line, document, object and field path', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-validate-'));
  await mkdir(join(dir, 'nested'));
  await writeFile(join(dir, 'ok.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw }
spec:
  gatewayClassName: x
  listeners: [{ name: http, protocol: HTTP, port: 8080 }]
`);
  await writeFile(join(dir, 'nested', 'broken.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw2 }
spec:
  listeners: [{ name: http, protocol: HTTP, port: 8081 }]
---
key: [unclosed
`);
  await writeFile(join(dir, 'nested', 'route.yaml'), `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: api, namespace: shop }
spec:
  parentRefs: [{ name: gw }]
  rules:
    - matches:
        - path:
            type: Prefix
            value: /api
`);
  const r = await runCli(['validate', '-f', dir]);
  assert.equal(r.code, 1);
  assert.match(r.stdout, /nested\/route\.yaml:9 \(document 1\) HTTPRoute\/shop\/api: spec\.rules\[0\]\.matches\[0\]\.path\.type: must be one of: Exact, PathPrefix, RegularExpression/);
  assert.match(r.stdout, /nested\/broken\.yaml:[78] \(document 2\): invalid YAML/);
  assert.match(r.stdout, /2 error\(s\) in 3 file\(s\)/);

  const good = await runCli(['validate', '-f', join(dir, 'ok.yaml')]);
  assert.equal(good.code, 0, good.stdout);
  assert.match(good.stdout, /^ok: 1 resource\(s\) in 1 file\(s\)/m);

  const missing = await runCli(['validate', '-f', join(dir, 'nope.yaml')]);
  assert.equal(missing.code, 1);
  assert.match(missing.stdout, /cannot read .*nope\.yaml: ENOENT/);
});

test('run refuses to start on a broken configuration, with the errors', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-run-'));
  await writeFile(join(dir, 'bad.yaml'), 'kind: [\n');
  const r = await runCli(['run', '-f', dir, '--workers', '1', '--admin', '127.0.0.1:0']);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /the configuration has errors\n.*bad\.yaml:\d+ \(document 1\): invalid YAML/);
});

test('SIGTERM lets requests in flight finish, then exits 0', async () => {
  const { startUpstream } = await import('./helpers/upstream.ts');
  const { freePort } = await import('./helpers/ports.ts');
  const { gatewayYaml, beRef } = await import('./helpers/gateway.ts');
  const { startCli } = await import('./helpers/cli.ts');
  const { request } = await import('undici');
  const up = await startUpstream('slow');
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-drain-'));
  await writeFile(join(dir, 'gw.yaml'), gatewayYaml(port, { slow: up.port }, `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  parentRefs: [{ name: gw }]
  rules: [{ backendRefs: [${beRef('slow')}] }]
`));
  const gw = startCli(['run', '-f', dir, '--workers', '1', '--bind', '127.0.0.1', '--admin', '127.0.0.1:0']);
  try {
    await gw.waitFor(/listening on/);
    const inFlight = request(`http://127.0.0.1:${port}/delay/700`);
    await new Promise((r) => setTimeout(r, 150));
    const exited = gw.stop('SIGTERM');
    const r = await inFlight;
    assert.equal(r.statusCode, 200, 'the request in flight finished');
    await r.body.dump();
    assert.equal(await exited, 0);
    await assert.rejects(request(`http://127.0.0.1:${port}/`), /ECONNREFUSED/, 'no longer accepting');
    // the access log line of that request, as JSON on stdout
    const line = gw.output().split('\n').find((l) => l.includes('"path":"/delay/700"'));
    assert.ok(line, gw.output());
    const entry = JSON.parse(line);
    assert.equal(entry.status, 200);
    assert.equal(entry.route, 'default/r/0');
    assert.match(entry.request_id, /^[0-9a-f-]{36}$/);
    assert.equal(entry.upstream, `127.0.0.1:${up.port}`);
    assert.ok(entry.duration_ms >= 500);
  } finally {
    await gw.stop('SIGKILL');
    await up.close();
  }
});
