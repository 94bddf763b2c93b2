// ClientTrafficPolicy tls.session.resumption over real TLS connections: a
// client makes one request, then connects again offering the session it got
// (ticket or id) and the test reads isSessionReused().
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, statusOf } from './helpers/eg-quickstart.ts';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ctpOnTls, edgeTlsYaml, serveEdgeTls, type EdgeTlsSite } from './helpers/edge-tls.ts';
import { startCli } from './helpers/cli.ts';
import { makeCa, issueServerCert } from './helpers/certs.ts';

let up: Upstream;
let gw: TestGateway;
let site: EdgeTlsSite;

before(async () => {
  up = await startUpstream('backend');
  const [port, tlsPort, ca] = [await freePort(), await freePort(), await makeCa()];
  gw = await startGateway(egQuickstart(port, up.port));
  site = { gw, port, tlsPort, upstreamPort: up.port, ca, serverCert: await issueServerCert(ca, { hostnames: ['www.example.com'] }), clientCaPem: ca.certPem };
});

after(async () => {
  await gw?.close();
  await up?.close();
});

/** One GET over a new TLS connection offering `session`; the session it leaves (the last ticket, else its session id) and whether it resumed. */
function get(version: tls.SecureVersion, session?: Buffer, port = site.tlsPort): Promise<{ reused: boolean; session: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const s = tls.connect({ host: '127.0.0.1', port, servername: 'www.example.com', ca: site.ca.certPem, minVersion: version, maxVersion: version, session, ALPNProtocols: ['http/1.1'] });
    s.on('session', (t) => (ticket = t));
    s.on('error', reject);
    let text = '';
    s.setEncoding('latin1');
    s.once('secureConnect', () => s.write('GET /get HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n'));
    s.on('data', (c: string) => (text += c));
    // TLS 1.3 tickets come right after the handshake, before the answer: once the answer is whole, every ticket is in.
    s.on('end', () => {
      assert.match(text, /^HTTP\/1\.1 200/);
      resolve({ reused: s.isSessionReused(), session: ticket ?? s.getSession() });
    });
  });
}

/** Whether a second connection resumes the first one's session, per TLS version. */
async function resumes(): Promise<{ 'TLSv1.2': boolean; 'TLSv1.3': boolean }> {
  const out = { 'TLSv1.2': false, 'TLSv1.3': false };
  for (const v of ['TLSv1.2', 'TLSv1.3'] as const) {
    const first = await get(v);
    assert.equal(first.reused, false);
    out[v] = first.session !== undefined && (await get(v, first.session)).reused;
  }
  return out;
}

const session = (resumption: string) => ctpOnTls(`  tls:
    session: { resumption: ${resumption} }`);

describe('tls.session.resumption', () => {
  test('without a policy Node resumes (tickets); a policy without session.resumption resumes nothing, as Envoy Gateway', async () => {
    await serveEdgeTls(site, '');
    assert.deepEqual(await resumes(), { 'TLSv1.2': true, 'TLSv1.3': true });
    await serveEdgeTls(site, ctpOnTls('  tls: { minVersion: "1.2" }'));
    assert.deepEqual(await resumes(), { 'TLSv1.2': false, 'TLSv1.3': false });
  });

  test('stateless: session tickets, TLS 1.2 and 1.3; stateful: session ids (TLS 1.2 in Node)', async () => {
    await serveEdgeTls(site, session('{ stateless: {} }'));
    assert.deepEqual(await resumes(), { 'TLSv1.2': true, 'TLSv1.3': true });
    await serveEdgeTls(site, session('{ stateful: {} }'));
    const stateful = await resumes();
    assert.equal(stateful['TLSv1.2'], true);
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
    // Node offers no TLS 1.3 session-id (stateful ticket) resumption: if this changes, the README says otherwise.
    assert.equal(stateful['TLSv1.3'], false);
  });
});

describe('tls.session.resumption with --workers 2', () => {
  /** How many of `n` new connections (the kernel spreads them over the workers) resume the first connection's ticket. */
  async function resumedOf(policy: string, n: number): Promise<number> {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-tickets-'));
    const file = join(dir, 'gw.yaml');
    const ports = { ...site, port: await freePort(), tlsPort: await freePort() };
    await writeFile(file, edgeTlsYaml(ports, policy));
    const cli = startCli(['run', '-f', file, '--workers', '2', '--bind', '127.0.0.1', '--admin', `127.0.0.1:${await freePort()}`, '--access-log', 'off', '--data-dir', join(dir, 'data')]);
    try {
      await cli.waitFor(/admin on .*\(2 workers\)/);
      const first = await get('TLSv1.3', undefined, ports.tlsPort);
      let reused = 0;
      for (let i = 0; i < n; i++) if ((await get('TLSv1.3', first.session, ports.tlsPort)).reused) reused++;
      return reused;
    } finally {
      await cli.stop();
    }
  }

  test('stateless: every worker takes the tickets of the others (Node\'s own keys are per worker)', async () => {
    assert.ok((await resumedOf('', 16)) < 16, 'without a policy some connections reach a worker that cannot read the ticket');
    assert.equal(await resumedOf(session('{ stateless: {} }'), 16), 16);
  });
});
