// The CLI around the Istio examples, as child processes: `portcullis validate`
// (every example loads; a DENY policy without rules does not), `portcullis
// explain` for an allowed and a denied request, with and without a JWT, and
// the decision trace in the debug log of `portcullis run`.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey } from 'jose';
import { buildFromPaths } from '../src/config/pipeline.ts';
import { formatError } from '../src/resources/errors.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { runCli, startCli, type Running } from './helpers/cli.ts';
import { freePort } from './helpers/ports.ts';
import { EXAMPLES_DIR, examplePath, exampleYaml, quickstartYaml, send } from './helpers/istio-e2e.ts';

const QUICKSTART = join(EXAMPLES_DIR, '..', 'quickstart');
import { explain, parseRequestLine } from '../src/cli/explain.ts';

const SAMPLE_JWKS = 'https://raw.githubusercontent.com/istio/istio/master/security/tools/jwt/samples/jwks.json';
const ISS = 'testing@secure.istio.io';

type CliResult = Awaited<ReturnType<typeof runCli>>;

let dir: string;
let jwks: http.Server;
/** The child processes of this file, started together in before(): each costs half a second of CPU. */
let children: Promise<Record<'validateInvalid' | 'runInvalid' | 'allowed' | 'denied', CliResult>>;
let privateKey: CryptoKey;
let jwtExample = '';

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-cli-'));
  const pair = await generateKeyPair('ES256', { extractable: true });
  privateKey = pair.privateKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
  jwks = http.createServer((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: [jwk] })));
  await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(jwks.address() as net.AddressInfo).port}/jwks.json`;
  jwtExample = join(dir, 'authz-jwt.yaml');
  await writeFile(jwtExample, exampleYaml('authz-jwt.yaml', {}, { [SAMPLE_JWKS]: url }));
  const invalid = examplePath('invalid-deny-without-rules.yaml');
  const deny = ['-f', QUICKSTART, '-f', examplePath('authz-deny.yaml')];
  children = Promise.all([
    runCli(['validate', '-f', invalid]),
    runCli(['run', '-f', invalid, '--workers', '1', '--admin', '127.0.0.1:0']),
    runCli(['explain', ...deny, '--request', 'GET http://localhost:8080/ip -H "x-token: admin"']),
    runCli(['explain', ...deny, '--request', 'GET http://localhost:8080/ip -H "x-token: guest"']),
  ]).then(([validateInvalid, runInvalid, allowed, denied]) => ({ validateInvalid, runInvalid, allowed, denied }));
});

after(async () => {
  jwks?.closeAllConnections();
  await new Promise<void>((r) => (jwks ? jwks.close(() => r()) : r()));
  if (dir) await rm(dir, { recursive: true, force: true });
});

const token = (claims: Record<string, unknown>) =>
  new SignJWT({ iss: ISS, sub: ISS, exp: Math.floor(Date.now() / 1000) + 600, ...claims }).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).sign(privateKey);

describe('portcullis validate', () => {
  test('every runnable example in examples/istio loads without an error', async () => {
    const files = readdirSync(EXAMPLES_DIR).filter((f) => f.endsWith('.yaml') && !f.startsWith('invalid-'));
    assert.ok(files.length >= 10, files.join(', '));
    for (const f of files) {
      const r = await buildFromPaths([examplePath(f)], DEFAULT_TRANSLATE_OPTIONS);
      assert.deepEqual([...r.errors, ...r.policyErrors].map(formatError), [], f);
      assert.ok(r.snapshot, f);
    }
  });

  test('a DENY policy without rules: exit 1, and the message names file, line, object and field', async () => {
    const r = (await children).validateInvalid;
    assert.equal(r.code, 1, r.stdout + r.stderr);
    assert.match(
      r.stdout,
      /^error: .*examples\/istio\/invalid-deny-without-rules\.yaml:12 \(document 1\) AuthorizationPolicy\/foo\/deny-all: spec: A DENY policy without rules is invalid: it would never be triggered; add an empty rule `\{\}` to deny every request$/m,
    );
    assert.match(r.stdout, /^1 error\(s\) in 1 file\(s\)$/m);
  });

  test('`portcullis run` does not start with it', async () => {
    const r = (await children).runInvalid;
    assert.equal(r.code, 1);
    assert.match(r.stderr, /A DENY policy without rules is invalid/);
  });
});

describe('portcullis explain', () => {
  const runs: Record<string, { code: number | null; stdout: string }> = {};
  let good = '';
  before(async () => {
    good = await token({ groups: ['group1'] });
    // An allowed and a denied request through the real CLI; the JWT cases in-process.
    const inProcess = async (request: string) => {
      const out = await explain([jwtExample], parseRequestLine(request), { sourceIp: '127.0.0.1', rootNamespace: 'istio-system', pathNormalization: 'BASE' });
      return { code: out.code, stdout: out.text };
    };
    const [withJwt, badJwt] = await Promise.all([
      inProcess(`GET http://localhost:8080/headers -H "Authorization: Bearer ${good}"`),
      inProcess('GET http://localhost:8080/headers -H "Authorization: Bearer not-a-jwt-s3cr3t"'),
    ]);
    Object.assign(runs, await children, { withJwt, badJwt });
  });

  test('allowed: the route, the policies on each hop, the deciding rule, and the answer; exit 0', () => {
    const r = runs.allowed;
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^route: HTTPRoute\/foo\/httpbin rule 0 \(match PathPrefix \/ip\)$/m);
    assert.match(r.stdout, /^gateway hop \(Gateway\/default\/quickstart\): istio\.requestAuthentication \[RequestAuthentication\/default\/quickstart-jwt\] → istio\.authorization \[AuthorizationPolicy\/default\/no-admin, AuthorizationPolicy\/default\/reports-need-a-token\]$/m);
    // Policies oldest first; the files carry no creationTimestamp, so their order in the files stands in.
    assert.match(r.stdout, /^ {2}destination hop: istio\.authorization \[AuthorizationPolicy\/foo\/deny-method-get, AuthorizationPolicy\/foo\/allow-path-ip\]$/m);
    assert.match(r.stdout, /^ {2}allow +istio\.authorization \[AuthorizationPolicy\/foo\/allow-path-ip\]: rule 0 matched \(ALLOW\) on Service\/foo\/httpbin$/m);
    assert.match(r.stdout, /^answer: proxied to Service\/foo\/httpbin at 127\.0\.0\.1:9081$/m);
  });

  test('denied: the DENY rule that matched and the answer 403 RBAC: access denied; exit 3', () => {
    const r = runs.denied;
    assert.equal(r.code, 3, r.stdout);
    assert.match(r.stdout, /^ {2}deny +istio\.authorization \[AuthorizationPolicy\/foo\/deny-method-get\]: rule 0 matched \(DENY\) on Service\/foo\/httpbin$/m);
    assert.match(r.stdout, /^answer: 403 .*"RBAC: access denied"$/m);
  });

  test('with a JWT: the request principal, the claim rule, and the answer — never the token', () => {
    const r = runs.withJwt;
    assert.equal(r.code, 0, r.stdout);
    assert.match(r.stdout, /^headers: authorization$/m);
    assert.match(r.stdout, /^ {2}allow +istio\.requestAuthentication \[RequestAuthentication\/foo\/jwt-example\]: requestPrincipal testing@secure\.istio\.io\/testing@secure\.istio\.io/m);
    assert.match(r.stdout, /^ {2}allow +istio\.authorization \[AuthorizationPolicy\/foo\/require-jwt\]: rule 0 matched \(ALLOW\)/m);
    assert.ok(!r.stdout.includes(good.split('.')[2]), 'the signature is not printed');
  });

  test('with a malformed JWT: 401 and why, without echoing it', () => {
    const r = runs.badJwt;
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^ {2}deny +istio\.requestAuthentication \[RequestAuthentication\/foo\/jwt-example\]: Jwt is not in the form of Header\.Payload\.Signature with two dots and 3 sections$/m);
    assert.match(r.stdout, /^answer: 401 .*"Jwt is not in the form of Header\.Payload\.Signature with two dots and 3 sections"$/m);
    assert.ok(!r.stdout.includes('s3cr3t'));
  });
});

describe('portcullis explain, in-process: --source-ip and two hops', () => {
  const ex = (file: string, request: string, sourceIp = '127.0.0.1') =>
    explain([examplePath(file)], parseRequestLine(request), { sourceIp, rootNamespace: 'istio-system', pathNormalization: 'BASE' });

  test('--source-ip is the client address remoteIpBlocks sees', async () => {
    const other = await ex('authz-ingress-allow.yaml', 'GET http://127.0.0.1:8080/headers', '127.0.0.2');
    assert.equal(other.code, 3);
    assert.match(other.text, /^ {2}deny +istio\.authorization \[AuthorizationPolicy\/foo\/ingress-policy\]: no ALLOW policy matched on Gateway\/foo\/httpbin-gateway$/m);
    const home = await ex('authz-ingress-allow.yaml', 'GET http://127.0.0.1:8080/headers');
    assert.equal(home.code, 0, home.text);
  });

  test('two hops: the gateway allows, the service refuses, both decisions are shown', async () => {
    const r = await ex('two-hops.yaml', 'POST http://localhost:8080/api/x');
    assert.equal(r.code, 3);
    assert.match(r.text, /^decisions:\n {2}allow +istio\.authorization \[AuthorizationPolicy\/foo\/gateway-paths\]: rule 0 matched \(ALLOW\) on Gateway\/foo\/httpbin-gateway\n {2}deny +istio\.authorization \[AuthorizationPolicy\/foo\/httpbin-readonly\]: no ALLOW policy matched on Service\/foo\/httpbin$/m);
    assert.match(r.text, /^answer: 403 \(answered by the gateway on the destination hop\) "RBAC: access denied"$/m);
  });

  test('the path is normalized as the gateway does it, from the target as written', async () => {
    const r = await ex('path-normalization.yaml', 'GET http://localhost:8080/public/%2e%2e/admin');
    assert.match(r.text, /^path: \/public\/%2e%2e\/admin normalized to \/admin \(BASE\)$/m);
    assert.match(r.text, /^answer: 403 \(answered by the gateway\) "RBAC: access denied"$/m);
  });
});

describe('portcullis run --log-level debug', () => {
  let gw: Running | undefined;
  let echo: EchoServer;
  let port = 0;
  before(async () => {
    echo = await startEcho('v1');
    port = await freePort();
    const file = join(dir, 'authz-deny.yaml');
    await writeFile(file, quickstartYaml({ 8080: port, 9081: echo.port }) + '\n---\n' + exampleYaml('authz-deny.yaml', {}));
    gw = startCli(['run', '-f', file, '--workers', '1', '--admin', '127.0.0.1:0', '--bind', '127.0.0.1', '--log-level', 'debug', '--access-log', 'off']);
    await gw.waitFor(new RegExp(`listening on http://127\\.0\\.0\\.1:${port}`));
  });
  after(async () => {
    await gw?.stop();
    await echo?.close();
  });

  test('each request logs its decision trace: the policy, the rule, the hop', async () => {
    const denied = await send(port, '/ip', { headers: { 'x-token': 'guest', 'x-request-id': 'trace-denied' } });
    assert.equal(denied.status, 403);
    const line = await gw!.waitFor(/\{[^\n]*"request_id":"trace-denied"[^\n]*"msg":"decision trace"[^\n]*\}/);
    const entry = JSON.parse(line) as { status: number; trace: { filter: string; origin: string; decision: string; reason: string }[] };
    assert.equal(entry.status, 403);
    // The quickstart's gateway hop lets it through (no token, no policy of its own denies it); httpbin's hop denies it.
    const GATEWAY_HOP = [['continue', 'RequestAuthentication/default/quickstart-jwt'], ['allow', undefined]];
    assert.deepEqual(entry.trace.map((t) => [t.decision, t.origin]), [...GATEWAY_HOP, ['deny', 'AuthorizationPolicy/foo/deny-method-get']]);
    assert.match(entry.trace[2].reason, /rule 0 matched \(DENY\) on Service\/foo\/httpbin/);

    assert.equal((await send(port, '/ip', { headers: { 'x-token': 'admin', 'x-request-id': 'trace-allowed' } })).status, 200);
    const ok = JSON.parse(await gw!.waitFor(/\{[^\n]*"request_id":"trace-allowed"[^\n]*"msg":"decision trace"[^\n]*\}/)) as typeof entry;
    assert.deepEqual(ok.trace.map((t) => [t.decision, t.origin]), [...GATEWAY_HOP, ['allow', 'AuthorizationPolicy/foo/allow-path-ip']]);
  });
});
