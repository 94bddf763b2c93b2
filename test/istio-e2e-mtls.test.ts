// PeerAuthentication over real mutual TLS: a CA and certificates made by
// `portcullis ca` (child processes, in a temp dir), its cacerts.yaml and the
// listener Secret loaded as configuration next to examples/istio/peer-authentication.yaml,
// then HTTPS clients with and without certificates.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startEcho, type EchoServer } from '../src/demo/echo.ts';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { runCli } from './helpers/cli.ts';
import { issueWorkloadCert, makeCa, makeIntermediateCa } from './helpers/certs.ts';
import { examplePath, exampleYaml, send, type Answer } from './helpers/istio-e2e.ts';
import { explain, parseRequestLine } from '../src/cli/explain.ts';

interface Creds { cert: string; key: string }

let dir: string;
let echo: EchoServer;
let gw: TestGateway;
let strict = 0;
let permissive = 0;
let rootPem = '';
const creds: Record<'foo' | 'bar' | 'legacy' | 'forged' | 'expired' | 'viaIntermediate' | 'leafOnly', Creds> = {} as never;

async function ca(...args: string[]): Promise<string> {
  const r = await runCli(['ca', ...args], { cwd: dir });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout;
}

const read = (f: string) => readFile(join(dir, f), 'utf8');

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-mtls-'));
  // What the README tells users to run, as child processes; the extra identities are made
  // in-process (each CLI run costs half a second of CPU).
  await ca('init', '--dir', 'ca');
  const issued = await Promise.all([
    ca('issue-server', '--dir', 'ca', '--host', 'localhost', '--ip', '127.0.0.1', '--out', 'server', '--secret', 'gateway-cert', '--secret-namespace', 'foo'),
    ca('issue', '--dir', 'ca', '-n', 'foo', '-s', 'sleep', '--out', 'foo-sleep'),
    ca('issue', '--dir', 'ca', '-n', 'bar', '-s', 'sleep', '--out', 'bar-sleep'),
  ]);
  assert.equal(issued[1].trim(), 'spiffe://cluster.local/ns/foo/sa/sleep');
  rootPem = await read('ca/root-cert.pem');
  for (const name of ['foo', 'bar'] as const) {
    creds[name] = { cert: await read(`${name}-sleep-chain.pem`), key: await read(`${name}-sleep-key.pem`) };
  }
  const root = { certPem: rootPem, keyPem: await read('ca/root-key.pem') };
  const legacy = await issueWorkloadCert(root, { namespace: 'legacy', serviceAccount: 'sleep' });
  creds.legacy = { cert: legacy.certPem, key: legacy.keyPem };
  const old = await issueWorkloadCert(root, { namespace: 'foo', serviceAccount: 'sleep', expired: true });
  creds.expired = { cert: old.certPem, key: old.keyPem };
  // Another CA minting the very same identity as foo/sleep.
  const forged = await issueWorkloadCert(await makeCa(), { namespace: 'foo', serviceAccount: 'sleep' });
  creds.forged = { cert: forged.certPem, key: forged.keyPem };
  await writeFile(join(dir, 'forged-cert.pem'), forged.certPem);
  // Issued by an intermediate under the root: good when the client sends the intermediate along.
  const intermediate = await makeIntermediateCa(root);
  const viaIntermediate = await issueWorkloadCert(intermediate, { namespace: 'foo', serviceAccount: 'sleep' });
  const withIntermediate = viaIntermediate.chainPem.slice(0, viaIntermediate.chainPem.lastIndexOf('-----BEGIN CERTIFICATE-----'));
  creds.viaIntermediate = { cert: withIntermediate, key: viaIntermediate.keyPem };
  creds.leafOnly = { cert: viaIntermediate.certPem, key: viaIntermediate.keyPem };
  await writeFile(join(dir, 'intermediate-chain.pem'), withIntermediate);
  await writeFile(join(dir, 'intermediate-leaf.pem'), viaIntermediate.certPem);
  await writeFile(join(dir, 'not-a-cert.pem'), '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');

  echo = await startEcho('v1');
  [strict, permissive] = await Promise.all([freePort(), freePort()]);
  const yaml = exampleYaml('peer-authentication.yaml', { 8443: strict, 9443: permissive, 9081: echo.port });
  gw = await startGateway([yaml, await read('ca/cacerts.yaml'), await read('server-secret.yaml')].join('\n---\n'));
});

after(async () => {
  await gw?.close();
  await echo?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

function get(port: number, who?: Creds, method = 'GET'): Promise<Answer> {
  return send(port, '/headers', { method, tls: { ca: rootPem, cert: who?.cert, key: who?.key }, body: method === 'POST' ? '{}' : undefined });
}

/** A refused handshake surfaces as a socket error (alert, reset) on the client: never an HTTP answer. */
async function assertHandshakeRefused(p: Promise<Answer>): Promise<void> {
  await assert.rejects(p, (e: NodeJS.ErrnoException) => {
    assert.match(`${e.code} ${e.message}`, /ECONNRESET|EPIPE|certificate|alert|socket hang up|handshake/i);
    return true;
  });
}

describe('STRICT (port 8443, the namespace policy)', () => {
  test('the foo/sleep certificate from `portcullis ca issue` is let through; principals allows every method', async () => {
    const r = await get(strict, creds.foo);
    assert.equal(r.status, 200, r.body);
    assert.equal(r.json().backend, 'v1');
    assert.equal((await get(strict, creds.foo, 'POST')).status, 200);
  });

  test('bar/sleep: the namespaces rule allows GET only', async () => {
    assert.equal((await get(strict, creds.bar)).status, 200);
    const post = await get(strict, creds.bar, 'POST');
    assert.equal(post.status, 403);
    assert.equal(post.body, 'RBAC: access denied');
  });

  test('legacy/sleep: a valid certificate, but neither its principal nor its namespace is allowed', async () => {
    const r = await get(strict, creds.legacy);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'RBAC: access denied');
  });

  test('no client certificate: refused at the handshake', async () => {
    await assertHandshakeRefused(get(strict));
  });

  test('the same SPIFFE id signed by another CA: refused at the handshake', async () => {
    await assertHandshakeRefused(get(strict, creds.forged));
  });

  test('an expired certificate from the right CA: refused at the handshake', async () => {
    await assertHandshakeRefused(get(strict, creds.expired));
  });

  test('issued by an intermediate: accepted with the intermediate sent along, refused without it', async () => {
    assert.equal((await get(strict, creds.viaIntermediate)).status, 200);
    await assertHandshakeRefused(get(strict, creds.leafOnly));
  });

  test('a certificate with somebody else\'s key: refused', async () => {
    await assertHandshakeRefused(get(strict, { cert: creds.foo.cert, key: creds.forged.key }));
  });
});

describe('PERMISSIVE (port 9443, portLevelMtls)', () => {
  test('no certificate: the connection is accepted, but there is no peer identity, so the policy refuses', async () => {
    const r = await get(permissive);
    assert.equal(r.status, 403);
    assert.equal(r.body, 'RBAC: access denied');
  });

  test('a verified certificate gives its identity: foo/sleep 200, bar/sleep GET 200', async () => {
    assert.equal((await get(permissive, creds.foo)).status, 200);
    assert.equal((await get(permissive, creds.bar)).status, 200);
  });

  test('a forged or expired certificate is not an identity: 403, never the principal it claims', async () => {
    assert.equal((await get(permissive, creds.forged)).status, 403);
    assert.equal((await get(permissive, creds.expired)).status, 403);
  });
});

describe('portcullis explain with --peer-cert', () => {
  // Child processes, started together: each takes a good half second.
  const runs: Record<string, { code: number | null; stdout: string; stderr: string }> = {};
  before(async () => {
    const files = [examplePath('peer-authentication.yaml'), join(dir, 'ca/cacerts.yaml'), join(dir, 'server-secret.yaml')].flatMap((f) => ['-f', f]);
    const runExplain = (request: string, cert?: string) =>
      runCli(['explain', ...files, '--request', request, ...(cert ? ['--peer-cert', join(dir, cert)] : [])]);
    // An allowed and a denied request through the real CLI; the handshake cases in-process.
    const inProcess = async (request: string, cert?: string) => {
      const out = await explain(files.filter((f) => f !== '-f'), parseRequestLine(request), {
        sourceIp: '127.0.0.1', rootNamespace: 'istio-system', pathNormalization: 'BASE',
        peerCertPem: cert ? await read(cert) : undefined,
      });
      return { code: out.code, stdout: out.text, stderr: '' };
    };
    const [allowed, denied, none, forged, chain, leafOnly] = await Promise.all([
      runExplain('POST https://localhost:8443/headers', 'foo-sleep-cert.pem'),
      runExplain('POST https://localhost:8443/headers', 'bar-sleep-cert.pem'),
      inProcess('GET https://localhost:8443/headers'),
      inProcess('GET https://localhost:8443/headers', 'forged-cert.pem'),
      inProcess('GET https://localhost:8443/headers', 'intermediate-chain.pem'),
      inProcess('GET https://localhost:8443/headers', 'intermediate-leaf.pem'),
    ]);
    Object.assign(runs, { allowed, denied, none, forged, chain, leafOnly });
  });

  test('allowed: names the route, the peer, the policy and rule that allowed, and the answer', () => {
    const r = runs.allowed;
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /^route: HTTPRoute\/foo\/httpbin rule 0/m);
    assert.match(r.stdout, /^ {2}allow +istio\.authorization \[AuthorizationPolicy\/foo\/httpbin-gateway\]: rule 0 matched \(ALLOW\) on Gateway\/foo\/httpbin-gateway$/m);
    assert.match(r.stdout, /^peer: cluster\.local\/ns\/foo\/sa\/sleep \(verified client certificate\)$/m);
    assert.match(r.stdout, /^gateway hop \(Gateway\/foo\/httpbin-gateway\): istio\.authorization \[AuthorizationPolicy\/foo\/httpbin-gateway\]$/m);
    assert.match(r.stdout, /^answer: proxied to Service\/foo\/httpbin at 127\.0\.0\.1:9081$/m);
  });

  test('denied: the namespace rule does not cover POST', () => {
    const r = runs.denied;
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^peer: cluster\.local\/ns\/bar\/sa\/sleep \(verified client certificate\)$/m);
    assert.match(r.stdout, /^ {2}deny +istio\.authorization \[AuthorizationPolicy\/foo\/httpbin-gateway\]: no ALLOW policy matched on Gateway\/foo\/httpbin-gateway$/m);
    assert.match(r.stdout, /^answer: 403 .*"RBAC: access denied"$/m);
  });

  test('STRICT without --peer-cert: the handshake is refused, as the gateway would', () => {
    const r = runs.none;
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^listener: port 8443 HTTPS .*client certificate required \(STRICT mTLS\)$/m);
    assert.match(r.stdout, /^answer: TLS handshake refused \(STRICT mTLS: no client certificate/m);
    assert.doesNotMatch(r.stdout, /RBAC|^route:/m);
  });

  test('a forged certificate: refused at the handshake too', () => {
    const r = runs.forged;
    assert.equal(r.code, 3);
    assert.match(r.stdout, /^peer: certificate not verified by the trust bundle: no identity$/m);
    assert.match(r.stdout, /^answer: TLS handshake refused \(STRICT mTLS: the client certificate does not verify/m);
  });

  test('a chain through an intermediate verifies as the handshake does; the leaf alone does not', () => {
    assert.equal(runs.chain.code, 0, runs.chain.stdout);
    assert.match(runs.chain.stdout, /^peer: cluster\.local\/ns\/foo\/sa\/sleep \(verified client certificate\)$/m);
    assert.match(runs.leafOnly.stdout, /^answer: TLS handshake refused/m);
  });

  test('a --peer-cert file that is not a certificate is a usage error, not a crash', async () => {
    await assert.rejects(
      explain([examplePath('peer-authentication.yaml'), join(dir, 'ca/cacerts.yaml'), join(dir, 'server-secret.yaml')], parseRequestLine('GET https://localhost:8443/'), {
        sourceIp: '127.0.0.1', rootNamespace: 'istio-system', pathNormalization: 'BASE', peerCertPem: await read('not-a-cert.pem'),
      }),
      /--peer-cert: the file holds a certificate that does not parse/,
    );
  });
});
