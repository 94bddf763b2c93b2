// The quickstart and the README's examples, as written except for their fixed
// ports (8080, 8443, 9081, 9082, 9901), which are moved to ports this file
// allocates: the suite passes while a developer's quickstart is running.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'undici';
import { mkdtemp, mkdir, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { execFile, spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli, startCli } from './helpers/cli.ts';
import { portsMoved, send } from './helpers/istio-e2e.ts';
import { freePort } from './helpers/ports.ts';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startSingle, type Instance } from '../src/runtime/single.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { startRedis } from './helpers/redis.ts';

const example = (name: string) => fileURLToPath(new URL(`../examples/${name}`, import.meta.url));

// The examples' fixed ports, and the free ones this file serves them on.
const P = { http: await freePort(), https: await freePort(), v1: await freePort(), v2: await freePort(), admin: await freePort() };
const MOVED = { 8080: P.http, 8443: P.https, 9081: P.v1, 9082: P.v2 };

/** An example file (or every file of an example directory) with its ports moved, in a temp dir. */
async function moved(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-example-'));
  const src = example(name);
  const files = name.endsWith('.yaml') ? [src] : (await readdir(src)).filter((f) => f.endsWith('.yaml')).map((f) => join(src, f));
  await mkdir(join(dir, 'x'));
  for (const f of files) {
    const text = await readFile(f, 'utf8');
    const ports = Object.fromEntries(Object.entries(MOVED).filter(([from]) => new RegExp(`port: "?${from}\\b`).test(text)));
    await writeFile(join(dir, 'x', f.slice(f.lastIndexOf('/') + 1)), portsMoved(text, f, ports));
  }
  return name.endsWith('.yaml') ? join(dir, 'x', name.slice(name.lastIndexOf('/') + 1)) : join(dir, 'x');
}

test('the quickstart answers the README curl lines', async () => {
  // `portcullis run` without -f serves examples/quickstart with demo backends on 9081/9082: the same, on free ports.
  const [e1, e2] = [await startEcho('echo-v1', '127.0.0.1', P.v1), await startEcho('echo-v2', '127.0.0.1', P.v2)];
  const gw = startCli(['run', '-f', await moved('quickstart'), '--workers', '1', '--access-log', 'off', '--admin', `127.0.0.1:${P.admin}`]);
  try {
    await gw.waitFor(new RegExp(`admin on http://127\\.0\\.0\\.1:${P.admin}`), 60_000);
    const echo = await request(`http://127.0.0.1:${P.http}/echo/hello`);
    assert.equal(echo.statusCode, 200);
    const body = (await echo.body.json()) as { backend: string; url: string };
    assert.equal(body.backend, 'echo-v1');
    assert.equal(body.url, '/echo/hello');
    const canary = await request(`http://127.0.0.1:${P.http}/echo`, { headers: { 'x-version': 'v2' } });
    assert.equal(((await canary.body.json()) as { backend: string }).backend, 'echo-v2');
    const movedTo = await request(`http://127.0.0.1:${P.http}/old/docs`);
    await movedTo.body.dump();
    assert.equal(movedTo.statusCode, 301);
    assert.equal(movedTo.headers.location, `http://127.0.0.1:${P.http}/echo/docs`);
    const rewritten = await request(`http://127.0.0.1:${P.http}/api/v1/users`);
    assert.equal(rewritten.headers['x-served-by'], 'portcullis');
    assert.equal(((await rewritten.body.json()) as { url: string }).url, '/internal/users');
    const ready = await request(`http://127.0.0.1:${P.admin}/readyz`);
    assert.equal(ready.statusCode, 200);
    await ready.body.dump();

    // The example policies (examples/quickstart/policies.yaml).
    const status = async (path: string, headers: Record<string, string> = {}) => (await send(P.http, path, { headers })).status;
    assert.equal(await status('/echo/admin'), 403);
    assert.equal((await send(P.http, '/echo/admin')).body, 'RBAC: access denied');
    assert.equal(await status('/echo/admin/users'), 403);
    assert.equal(await status('/echo/x/../admin'), 403, 'the path is normalized before the policy sees it');
    assert.equal(await status('/echo/x/%2e%2e/admin'), 403);
    assert.equal(await status('/echo/reports'), 403, 'no token');
    const token = (await readFile(example('quickstart/demo.jwt'), 'utf8')).trim();
    const reports = await send(P.http, '/echo/reports', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(reports.status, 200);
    assert.equal(reports.json().headers['x-jwt-sub'], 'alice');
    assert.equal(reports.json().headers.authorization, undefined, 'the token is not forwarded');
    const forged = await send(P.http, '/echo/reports', { headers: { authorization: `Bearer ${token}x` } });
    assert.equal(forged.status, 401);
    assert.match(String(forged.headers['www-authenticate']), /^Bearer /);
    assert.equal(await status('/echo/hello', { authorization: `Bearer ${token}x` }), 401, 'a bad token is refused wherever it is sent');
    // The example SecurityPolicies (examples/quickstart/security-policies.yaml), as the README shows them.
    assert.equal(await status('/inventory'), 401, 'no API key');
    const inventory = await send(P.http, '/inventory', { headers: { 'x-api-key': 'demo-key-123' } });
    assert.equal(inventory.status, 200);
    assert.equal(inventory.json().headers['x-client-id'], 'demo-client');
    assert.equal(inventory.json().headers['x-api-key'], undefined, 'sanitize: the key stays at the gateway');
    assert.equal(await status('/inventory', { 'x-api-key': 'demo-key-1234' }), 401);
    const orders = await send(P.http, '/orders');
    assert.equal(orders.status, 401);
    assert.equal(orders.body, 'Jwt is missing');
    const allowedOrder = await send(P.http, '/orders', { headers: { authorization: `Bearer ${token}` } });
    assert.equal(allowedOrder.status, 200);
    assert.equal(allowedOrder.json().headers['x-user'], 'alice');
    assert.equal(await status('/orders', { authorization: `Bearer ${token}x` }), 401);
    const explained = await runCli(['explain', '-f', example('quickstart'), '--request', 'GET http://localhost:8080/echo/admin']);
    assert.match(explained.stdout, /^ {2}deny {5}istio\.authorization \[AuthorizationPolicy\/default\/no-admin\]: rule 0 matched \(DENY\) on Gateway\/default\/quickstart$/m);
    assert.match(explained.stdout, /^answer: 403 \(answered by the gateway\) "RBAC: access denied"$/m);
  } finally {
    const code = await gw.stop();
    await e1.close();
    await e2.close();
    assert.equal(code, 0, 'SIGTERM drains and exits 0');
  }
});


// README "Managing it with kubectl", as written, on the quickstart, with the quickstart's fixed ports
// (8080, 9901, the demo backends) moved to free ones in the configuration and in the command lines. Run
// from a directory of its own (with examples/ linked in), so that its .portcullis/ is this test's alone:
// other tests start gateways from the repository, whose .portcullis/kubeconfig each of them rewrites.
test('the README kubectl lines on the quickstart: apply changes what is enforced within a second; delete lifts it', async () => {
  const cwd = await mkdtemp(join(tmpdir(), 'portcullis-readme-kubectl-'));
  await symlink(fileURLToPath(new URL('../examples', import.meta.url)), join(cwd, 'examples'));
  const [e1, e2] = [await startEcho('echo-v1', '127.0.0.1', P.v1), await startEcho('echo-v2', '127.0.0.1', P.v2)];
  const quickstart = await moved('quickstart');
  const child = spawn(process.execPath, [fileURLToPath(new URL('../bin/portcullis.js', import.meta.url)), 'run', '-f', quickstart, '--workers', '1', '--admin', `127.0.0.1:${P.admin}`, '--access-log', 'off'], { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
  // The README's line, with the quickstart's ports replaced by this test's.
  const sh = (written: string) => new Promise<string>((resolve, reject) => {
    const line = written.replaceAll('localhost:8080', `localhost:${P.http}`).replaceAll('127.0.0.1:9901', `127.0.0.1:${P.admin}`);
    execFile('bash', ['-c', line], { cwd, timeout: 60_000 }, (err, stdout, stderr) => (err ? reject(new Error(`${line}\n${stderr}`)) : resolve(stdout)));
  });
  try {
    for (const end = Date.now() + 60_000; !out.includes(`management API on https://127.0.0.1:${P.admin}`); ) {
      if (Date.now() > end || child.exitCode !== null) throw new Error(`the quickstart did not start:\n${out}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    // The README's console block, command by command: the test runs exactly these lines.
    const readme = readFileSync(fileURLToPath(new URL('../README.md', import.meta.url)), 'utf8');
    const section = readme.slice(readme.indexOf('## Managing it with kubectl'));
    const block = section.slice(section.indexOf('```console\n') + 11, section.indexOf('\n```', section.indexOf('```console\n')));
    const commands = block.split('\n').filter((l) => l.startsWith('$ ')).map((l) => l.slice(2).replace(/\s+# .*$/, ''));
    const apply = 'kubectl --server https://127.0.0.1:9901 --certificate-authority .portcullis/admin-tls/ca.crt --token "$(cat .portcullis/admin-token)" apply -f examples/istio/authz-deny.yaml';
    const list = 'kubectl --kubeconfig .portcullis/kubeconfig get authorizationpolicies -A';
    const remove = 'kubectl --kubeconfig .portcullis/kubeconfig delete -f examples/istio/authz-deny.yaml';
    const probe = 'curl -s localhost:8080/ip | grep backend';
    const denied = 'curl -s localhost:8080/ip';
    const admin = "curl -s -H 'x-token: admin' localhost:8080/ip | grep backend";
    assert.deepEqual(commands, [probe, apply, denied, admin, list, remove, probe], 'the README block is the one this test runs');
    const status = async (headers: Record<string, string> = {}) => (await send(P.http, '/ip', { headers })).status;

    assert.match(await sh(probe), /"backend": "echo-v1"/);
    // The line, --server http://: kubectl sends no token over plain HTTP (client-go), and is refused.
    const plain = await sh('kubectl --server http://127.0.0.1:9901 --token "$(cat .portcullis/admin-token)" get authorizationpolicies -A 2>&1 || true');
    assert.match(plain, /You must be logged in to the server/);
    // Timed from kubectl's answer (the change accepted) to the data plane enforcing it; kubectl's own start is not the gateway's.
    const applied = await sh(apply);
    const t0 = Date.now();
    assert.match(applied, /^authorizationpolicy.security.istio.io\/deny-method-get created$/m);
    assert.match(applied, /^authorizationpolicy.security.istio.io\/allow-path-ip created$/m);
    while ((await status()) !== 403) if (Date.now() - t0 > 1000) assert.fail('not enforced within a second');
    assert.equal(await sh(denied), 'RBAC: access denied');
    assert.match(await sh(admin), /"backend": "echo-v1"/);
    assert.equal((await send(P.http, '/echo/hello')).status, 200, 'the policies select httpbin only');
    const listed = await sh(list);
    assert.match(listed, /^NAMESPACE\s+NAME\s+ACCEPTED\s+AGE$/m);
    assert.match(listed, /^default\s+no-admin\s+True\s+<unknown>$/m, 'the quickstart file\'s own policies are listed too');
    assert.match(listed, /^foo\s+allow-path-ip\s+True\s+\d+s$/m);
    assert.match(listed, /^foo\s+deny-method-get\s+True\s+\d+s$/m);
    const yaml = await sh('kubectl --kubeconfig .portcullis/kubeconfig get authorizationpolicy -n foo deny-method-get -o yaml | grep -A3 "type: Accepted" | head -1');
    assert.match(yaml, /type: Accepted/);
    const deleted = await sh(remove);
    const t1 = Date.now();
    assert.match(deleted, /deny-method-get" deleted/);
    assert.match(deleted, /allow-path-ip" deleted/);
    while ((await status()) !== 200) if (Date.now() - t1 > 1000) assert.fail('not lifted within a second');
    assert.match(await sh(probe), /"backend": "echo-v1"/);
    const audit = await sh('tail -4 .portcullis/audit.log');
    for (const verb of ['create', 'delete']) for (const name of ['deny-method-get', 'allow-path-ip']) assert.match(audit, new RegExp(`"verb":"${verb}".*"name":"${name}"`));
  } finally {
    if (child.exitCode === null) child.kill('SIGTERM');
    const code = await exited;
    await Promise.all([e1.close(), e2.close()]);
    await rm(cwd, { recursive: true, force: true });
    assert.equal(code, 0, `SIGTERM drains and exits 0:\n${out}`);
  }
});

describeExamples();

function describeExamples(): void {
  let v1: EchoServer | undefined;
  let v2: EchoServer | undefined;
  let inst: Instance | undefined;
  const serve = async (file: string, redis?: string) => {
    v1 ??= await startEcho('v1', '127.0.0.1', P.v1);
    v2 ??= await startEcho('v2', '127.0.0.1', P.v2);
    await inst?.close();
    inst = await startSingle({
      paths: [await moved(file)], watch: false, admin: { host: '127.0.0.1', port: 0 }, logLevel: 'silent', accessLog: 'off',
      workers: 1, drainMs: 1000, print: () => {}, translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' },
      redis: redis ? { url: redis, timeoutMs: 500, failClosed: false, prefix: 'portcullis:rl:' } : undefined,
    });
  };
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const r = await request(`http://127.0.0.1:${P.http}${path}`, { headers });
    const text = await r.body.text();
    return { status: r.statusCode, headers: r.headers, json: () => JSON.parse(text) };
  };
  after(async () => {
    await inst?.close();
    await v1?.close();
    await v2?.close();
  });

  test('examples/basic-routing.yaml', async () => {
    await serve('basic-routing.yaml');
    const users = await get('/users', { host: 'api.example.com' });
    assert.equal(users.json().backend, 'v1');
    const seen = new Set<string>();
    for (let i = 0; i < 4; i++) seen.add((await get('/orders/42', { host: 'api.example.com' })).json().backend);
    assert.deepEqual([...seen].sort(), ['v1', 'v2'], 'both replicas of the Service answer');
    assert.equal((await get('/users', { host: 'www.example.com' })).status, 404, 'route hostname api.example.com only');
    assert.equal((await get('/users', { host: 'example.org' })).status, 404);
  });

  test('examples/traffic-split.yaml', async () => {
    await serve('traffic-split.yaml');
    const counts: Record<string, number> = { v1: 0, v2: 0 };
    for (let i = 0; i < 400; i++) counts[(await get('/api')).json().backend]++;
    assert.ok(counts.v2 >= 16 && counts.v2 <= 70, `v2 got ${counts.v2}/400 for a 10% weight`);
    assert.equal((await get('/api', { 'x-canary': 'always' })).json().backend, 'v2');
  });

  test('examples/redirect-rewrite.yaml', async () => {
    await serve('redirect-rewrite.yaml');
    const login = await get('/login?next=/home', { host: 'localhost:8080' });
    assert.equal(login.status, 301);
    assert.equal(login.headers.location, 'https://localhost/login?next=/home');
    const cat = await get('/v1/catalog/items', { cookie: 'session=secret' });
    assert.equal(cat.headers['cache-control'], 'public, max-age=60');
    const seen = cat.json();
    assert.equal(seen.url, '/catalog/items');
    assert.equal(seen.headers.host, 'catalog.internal');
    assert.equal(seen.headers['x-api-version'], '1');
    assert.equal(seen.headers.cookie, undefined);
  });

  test('examples/tls.yaml, with a certificate from portcullis ca', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-tls-example-'));
    assert.equal((await runCli(['ca', 'init'], { cwd: dir })).code, 0);
    const issued = await runCli(['ca', 'issue-server', '--host', 'api.example.com', '--secret', 'api-cert'], { cwd: dir });
    assert.equal(issued.code, 0, issued.stderr);
    await inst?.close();
    v1 ??= await startEcho('v1', '127.0.0.1', P.v1);
    inst = await startSingle({
      paths: [await moved('tls.yaml'), join(dir, 'server-secret.yaml')], watch: false, admin: { host: '127.0.0.1', port: 0 }, logLevel: 'silent',
      accessLog: 'off', workers: 1, drainMs: 1000, print: () => {}, translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1' },
    });
    const agent = new Agent({ connect: { ca: await readFile(join(dir, '.portcullis/ca/root-cert.pem'), 'utf8'), servername: 'api.example.com' } });
    try {
      const r = await request(`https://127.0.0.1:${P.https}/hello`, { dispatcher: agent, headers: { host: `api.example.com:${P.https}` } });
      assert.equal(r.statusCode, 200);
      assert.equal(((await r.body.json()) as { backend: string }).backend, 'v1');
    } finally {
      await agent.close();
    }
    const redirect = await get('/anything', { host: 'api.example.com' });
    assert.equal(redirect.status, 301);
    assert.equal(redirect.headers.location, `https://api.example.com:${P.https}/anything`);
  });

  // Envoy Gateway's traffic task pages, with their YAML as written (examples/traffic).
  const heads = async (n: number, headers: Record<string, string>) => {
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push((await get('/get', { host: 'ratelimit.example', ...headers })).status);
    return out;
  };

  test('examples/traffic/local-rate-limit.yaml', async () => {
    await serve('traffic/local-rate-limit.yaml');
    const first = await get('/get', { host: 'ratelimit.example', 'x-user-id': 'one' });
    assert.equal(first.status, 200);
    assert.equal(first.headers['ratelimit-remaining'], '2');
    assert.deepEqual(await heads(3, { 'x-user-id': 'one' }), [200, 200, 429]);
    const over = await get('/get', { host: 'ratelimit.example', 'x-user-id': 'one' });
    assert.equal(over.headers['x-envoy-ratelimited'], 'true');
    assert.ok(Number(over.headers['retry-after']) > 0);
    assert.deepEqual(await heads(4, { 'x-user-id': 'two' }), [200, 200, 200, 200]);
  });

  test('examples/traffic/global-rate-limit.yaml, with a real redis-server', async () => {
    const redis = await startRedis();
    try {
      await serve('traffic/global-rate-limit.yaml', redis.url);
      assert.deepEqual(await heads(4, { 'x-user-id': 'alice' }), [200, 200, 200, 429]);
      assert.deepEqual(await heads(4, { 'x-user-id': 'bob' }), [200, 200, 200, 429]);
      assert.deepEqual(await heads(2, {}), [200, 200], 'no x-user-id: no rule applies');
    } finally {
      await inst?.close();
      inst = undefined;
      await redis.close();
    }
  });

  test('examples/traffic/fault-injection.yaml', async () => {
    await serve('traffic/fault-injection.yaml');
    const got = await heads(200, {});
    const aborted = got.filter((s) => s === 501).length;
    assert.equal(aborted + got.filter((s) => s === 200).length, 200);
    assert.ok(aborted >= 70 && aborted <= 130, `${aborted}/200 aborted for 50 %`);
  });
}
