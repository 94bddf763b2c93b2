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
import { untilStreak } from './helpers/requests.ts';
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
  // The quickstart host of Envoy Gateway's task pages.
  const www = (path: string, headers: Record<string, string> = {}) => get(path, { host: 'www.example.com', ...headers });
  const backendOf = async (path: string, headers: Record<string, string> = {}) => String((await www(path, headers)).headers['x-backend']);

  test('examples/traffic/circuit-breaker.yaml: past 10 in flight, 503 at once', async () => {
    await serve('traffic/circuit-breaker.yaml');
    const t0 = Date.now();
    const answers = await Promise.all(Array.from({ length: 30 }, async () => {
      const r = await www('/?delay=1s');
      return { status: r.status, ms: Date.now() - t0, overloaded: r.headers['x-envoy-overloaded'] };
    }));
    const ok = answers.filter((a) => a.status === 200);
    const over = answers.filter((a) => a.status === 503);
    assert.equal(ok.length, 10, JSON.stringify(answers.map((a) => a.status)));
    assert.equal(over.length, 20);
    assert.ok(over.every((a) => a.overloaded === 'true' && a.ms < 900), 'the overflow is answered at once, not after the slow backend');
    assert.ok(ok.every((a) => a.ms >= 1000), 'the 10 admitted waited for the backend');
  });

  test('examples/traffic/retry.yaml: a 500 is retried 5 times', async () => {
    await serve('traffic/retry.yaml');
    const before = v1!.requests;
    const r = await www('/status/500');
    assert.equal(r.status, 500);
    assert.equal(v1!.requests - before, 6, 'the first attempt and 5 retries');
    assert.equal((await www('/get')).status, 200);
    assert.equal(v1!.requests - before, 7, 'a 200 is not retried');
    const port = (inst!.admin.address() as { port: number }).port;
    const metrics = await (await request(`http://127.0.0.1:${port}/metrics`)).body.text();
    assert.match(metrics, /^portcullis_upstream_retries_total\{backend="Service\/default\/backend:3000"\} 5$/m);
  });

  test('examples/traffic/load-balancing.yaml: each policy of the task page over two replicas', async () => {
    await serve('traffic/load-balancing.yaml');
    const seq = async (path: string, n: number, headers: Record<string, string> = {}) => {
      const out: string[] = [];
      for (let i = 0; i < n; i++) out.push(await backendOf(path, headers));
      return out;
    };
    const round = await seq('/round', 10);
    assert.deepEqual(round.filter((b, i) => b !== round[i % 2]), [], `RoundRobin alternates: ${round}`);
    assert.deepEqual([...new Set(round)].sort(), ['v1', 'v2']);
    const random = await seq('/random', 100);
    const v1s = random.filter((b) => b === 'v1').length;
    assert.ok(v1s >= 25 && v1s <= 75, `Random: v1 got ${v1s}/100`);
    assert.deepEqual([...new Set(await seq('/least', 40))].sort(), ['v1', 'v2'], 'LeastRequest: both replicas');
    assert.equal(new Set(await seq('/source', 20)).size, 1, 'SourceIP: one client, one replica');
    assert.equal(new Set(await seq('/header', 20, { FooBar: '1.2.3.4' })).size, 1, 'Header: one value, one replica');
    const spread = new Set<string>();
    for (let i = 0; i < 20; i++) spread.add(await backendOf('/header', { FooBar: `10.0.0.${i}` }));
    assert.deepEqual([...spread].sort(), ['v1', 'v2'], 'Header: other values, other replicas');
    const fresh = await www('/cookie');
    const cookie = String(fresh.headers['set-cookie']);
    assert.match(cookie, /^FooBar="?[0-9a-f]+"?; Max-Age=60; .*SameSite=Strict/);
    assert.match(cookie, /HttpOnly/);
    const jar = cookie.split(';')[0];
    assert.equal(new Set(await seq('/cookie', 10, { cookie: jar })).size, 1, 'Cookie: the same cookie, the same replica');
  });

  test('examples/traffic/active-health-check.yaml: a replica failing its checks leaves rotation and comes back', async () => {
    await serve('traffic/active-health-check.yaml');
    const both = new Set<string>();
    for (let i = 0; i < 6; i++) both.add(await backendOf('/get'));
    assert.deepEqual([...both].sort(), ['v1', 'v2']);
    const health = (status: number) => request(`http://127.0.0.1:${P.v2}/healthz?status=${status}`, { method: 'POST' }).then((r) => r.body.text());
    try {
      assert.equal(await health(503), 'unhealthy\n', 'the README/Try command flips it');
      await untilStreak('v2 out of rotation', 8000, 8, async () => (await backendOf('/get')) === 'v1');
      assert.equal((await request(`http://127.0.0.1:${P.v2}/get`)).statusCode, 200, 'v2 still serves: the check took it out');
      await health(200);
      await untilStreak('v2 back in rotation', 5000, 1, async () => (await backendOf('/get')) === 'v2');
    } finally {
      v2!.health = 200;
    }
  });

  // Last: it stops the "active" echo backend (v1), as the task page stops its server.
  test('examples/traffic/passive-health-check.yaml (the Failover task): the fallback Backend answers once the active one fails', async () => {
    await serve('traffic/passive-health-check.yaml');
    const tenActive = [];
    for (let i = 0; i < 10; i++) tenActive.push(await backendOf('/test'));
    assert.deepEqual(tenActive, Array(10).fill('v1'), 'everything goes to the active Backend');
    await v1!.close();
    v1 = undefined;
    const first = await www('/test');
    assert.ok(first.status >= 500, `the first request after the failure fails (${first.status})`);
    const after = [];
    for (let i = 0; i < 9; i++) after.push(await backendOf('/test'));
    assert.deepEqual(after, Array(9).fill('v2'), 'then the passive (fallback) Backend answers');
  });
}
