// PeerAuthentication end to end over real TLS: a CA made with `portcullis ca`, the
// trust bundle read from its cacerts.yaml, modes resolved from Istio policies for the
// real listener ports, and node:https listeners configured the way the data plane
// does (requestCert / rejectUnauthorized / ca), then real clients.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { parse as parseYaml } from 'yaml';
import { runCaCommand } from '../src/cli/ca.ts';
import type { LoadedResource, Resource } from '../src/resources/types.ts';
import type { ConfigError } from '../src/resources/errors.ts';
import { resolvePeerAuthentication, trustBundleFrom, clientValidationFor, type MtlsMode } from '../src/translate/istio/peer-authentication.ts';
import { verifiedPeerOf } from '../src/auth/spiffe.ts';
import { makeCa, issueWorkloadCert, issueClientCert, type IssuedCert } from './helpers/certs.ts';

interface Pem { certPem: string; keyPem: string }
interface Listener { server: https.Server; port: number; mode?: MtlsMode }

let dir: string;
let rootPem: string;
let client: Pem & { chainPem: string };
let expired: IssuedCert;
let foreign: IssuedCert;
const listeners: Record<'strict' | 'permissive' | 'disable', Listener> = {} as never;

async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await runCaCommand(args, { out: (t) => (out += t), err: (t) => (err += t), cwd: dir });
  return { code, out, err };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-peer-'));
  assert.equal((await cli('init', '--dir', 'ca')).code, 0);
  const issued = await cli('issue', '--dir', 'ca', '-n', 'apps', '-s', 'client', '--out', 'client');
  assert.equal(issued.code, 0, issued.err);
  assert.equal(issued.out, 'spiffe://cluster.local/ns/apps/sa/client\n');
  assert.equal((await cli('issue-server', '--dir', 'ca', '--host', 'localhost', '--ip', '127.0.0.1', '--out', 'server')).code, 0);
  const read = (f: string) => readFile(join(dir, f), 'utf8');
  rootPem = await read('ca/root-cert.pem');
  client = { certPem: await read('client-cert.pem'), keyPem: await read('client-key.pem'), chainPem: await read('client-chain.pem') };
  const server = { cert: await read('server-chain.pem'), key: await read('server-key.pem') };
  const ca = { certPem: rootPem, keyPem: await read('ca/root-key.pem') };
  expired = await issueWorkloadCert(ca, { namespace: 'apps', serviceAccount: 'client', expired: true });
  // Another CA minting the very same SPIFFE id: a forged identity.
  foreign = await issueClientCert(await makeCa(), { uris: ['spiffe://cluster.local/ns/apps/sa/client'] });

  for (const name of ['strict', 'permissive', 'disable'] as const) {
    const s = https.createServer({ ...server }, (req, res) => {
      const peer = verifiedPeerOf(req.socket as unknown as Parameters<typeof verifiedPeerOf>[0]);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ verified: peer.verified, principal: peer.identity?.principal ?? null, namespace: peer.identity?.namespace ?? null }));
    });
    s.on('tlsClientError', () => {});
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    listeners[name] = { server: s, port: (s.address() as AddressInfo).port };
  }

  // The configuration: mesh-wide STRICT; the gateway's workload policy keeps the mode
  // (UNSET) but opens two ports. cacerts.yaml from `ca init` is the trust bundle.
  const secret = parseYaml(await read('ca/cacerts.yaml')) as Resource;
  const paSpec = (spec: Record<string, unknown>, ns: string, name: string): LoadedResource => ({
    resource: { apiVersion: 'security.istio.io/v1', kind: 'PeerAuthentication', metadata: { name, namespace: ns }, spec }, seq: 0,
  });
  const resources: LoadedResource[] = [
    { resource: secret, seq: 1 },
    paSpec({ mtls: { mode: 'STRICT' } }, 'istio-system', 'default'),
    paSpec({ selector: { matchLabels: { app: 'edge' } }, mtls: { mode: 'UNSET' }, portLevelMtls: {
      [listeners.permissive.port]: { mode: 'PERMISSIVE' },
      [listeners.disable.port]: { mode: 'DISABLE' },
    } }, 'apps', 'edge'),
  ];
  const errors: ConfigError[] = [];
  const bundle = trustBundleFrom(resources, 'istio-system', errors);
  assert.deepEqual(errors, []);
  assert.equal(bundle, rootPem);
  for (const l of Object.values(listeners)) {
    l.mode = resolvePeerAuthentication(resources, { namespace: 'apps', name: 'edge', labels: { app: 'edge' } }, l.port, 'istio-system').mode;
    const { clientValidation: cv, error } = clientValidationFor([l.mode], bundle);
    assert.equal(error, undefined);
    // As the data plane applies a snapshot to a running listener.
    if (cv) l.server.setSecureContext({ ...server, ca: cv.caPem });
    const s = l.server as unknown as { requestCert: boolean; rejectUnauthorized: boolean };
    s.requestCert = cv !== undefined;
    s.rejectUnauthorized = cv?.mode === 'REQUIRE';
  }
});

after(async () => {
  await Promise.all(Object.values(listeners).map((l) => new Promise<void>((r) => l.server.close(() => r()))));
  await rm(dir, { recursive: true, force: true });
});

interface Reply { verified: boolean; principal: string | null; namespace: string | null }

/** One request on a fresh connection (no agent: a pooled connection would skip the handshake). */
function get(l: Listener, creds?: { certPem?: string; chainPem?: string; keyPem: string }): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: l.port, servername: 'localhost', path: '/', agent: false, ca: rootPem,
      cert: creds?.chainPem ?? creds?.certPem, key: creds?.keyPem,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (body += d));
      res.on('end', () => { try { resolve(JSON.parse(body) as Reply); } catch (e) { reject(e as Error); } });
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

test('modes resolved for the real ports: mesh STRICT inherited, port-level PERMISSIVE and DISABLE', () => {
  assert.equal(listeners.strict.mode, 'STRICT');
  assert.equal(listeners.permissive.mode, 'PERMISSIVE');
  assert.equal(listeners.disable.mode, 'DISABLE');
});

test('STRICT accepts a client certificate from `portcullis ca issue` and reports its SPIFFE identity', async () => {
  assert.deepEqual(await get(listeners.strict, client), { verified: true, principal: 'cluster.local/ns/apps/sa/client', namespace: 'apps' });
  // The leaf alone works too (the root signs directly).
  assert.equal((await get(listeners.strict, { certPem: client.certPem, keyPem: client.keyPem })).verified, true);
});

test('STRICT refuses the handshake: no client certificate', async () => {
  await assert.rejects(get(listeners.strict));
});

test('STRICT refuses the handshake: a certificate from another CA, even with the same SPIFFE id', async () => {
  await assert.rejects(get(listeners.strict, foreign));
});

test('STRICT refuses the handshake: an expired certificate from the right CA', async () => {
  await assert.rejects(get(listeners.strict, expired));
});

test('STRICT refuses a client whose key does not match its certificate', async () => {
  // node refuses to build such a context client-side; either way no request gets through.
  await assert.rejects(get(listeners.strict, { certPem: client.certPem, keyPem: foreign.keyPem }));
});

test('PERMISSIVE: verified identity for a valid certificate, anonymous for none', async () => {
  assert.deepEqual(await get(listeners.permissive, client), { verified: true, principal: 'cluster.local/ns/apps/sa/client', namespace: 'apps' });
  assert.deepEqual(await get(listeners.permissive), { verified: false, principal: null, namespace: null });
});

test('PERMISSIVE: a forged or expired certificate gets through the handshake but yields no identity', async () => {
  assert.deepEqual(await get(listeners.permissive, foreign), { verified: false, principal: null, namespace: null });
  assert.deepEqual(await get(listeners.permissive, expired), { verified: false, principal: null, namespace: null });
});

test('DISABLE: no client certificate requested, so none is seen even when the client has one', async () => {
  assert.deepEqual(await get(listeners.disable), { verified: false, principal: null, namespace: null });
  assert.deepEqual(await get(listeners.disable, client), { verified: false, principal: null, namespace: null });
});
