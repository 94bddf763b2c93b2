// TLS termination over real sockets: certificates from Secrets, SNI picks the
// certificate, HTTP/2 by ALPN, and a changed Secret is served without restart.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import http2 from 'node:http2';
import { X509Certificate } from 'node:crypto';
import { Agent, request } from 'undici';
import { startGateway, routeTo, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayDoc, tlsSecretYaml, backendYaml } from './helpers/yaml.ts';
import { makeCa, issueServerCert, type RootCa } from './helpers/certs.ts';

let gw: TestGateway;
let up: Upstream;
let port: number;
let ca: RootCa;

async function config(aHost: string): Promise<string> {
  const a = await issueServerCert(ca, { hostnames: [aHost] });
  const b = await issueServerCert(ca, { hostnames: ['b.example.com'] });
  return gatewayDoc([
    `{ name: a, protocol: HTTPS, port: ${port}, hostname: a.example.com, tls: { mode: Terminate, certificateRefs: [{ name: a-cert }] } }`,
    `{ name: b, protocol: HTTPS, port: ${port}, hostname: b.example.com, tls: { certificateRefs: [{ name: b-cert }] } }`,
  ]) + tlsSecretYaml('a-cert', a) + tlsSecretYaml('b-cert', b) + backendYaml('up', [up.port]) + routeTo('up');
}

before(async () => {
  ca = await makeCa();
  up = await startUpstream('up');
  port = await freePort();
  gw = await startGateway(await config('a.example.com'), { watch: true });
});

after(async () => {
  await gw?.close();
  await up?.close();
});

function servedCert(servername: string | undefined): Promise<X509Certificate> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, servername, ca: ca.certPem, rejectUnauthorized: false, ALPNProtocols: ['http/1.1'] }, () => {
      const raw = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(raw));
    });
    s.on('error', reject);
  });
}

test('SNI picks the listener certificate for each hostname', async () => {
  assert.match((await servedCert('a.example.com')).subjectAltName!, /DNS:a\.example\.com/);
  assert.match((await servedCert('b.example.com')).subjectAltName!, /DNS:b\.example\.com/);
  assert.match((await servedCert(undefined)).subjectAltName!, /DNS:a\.example\.com/, 'no SNI: the first certificate');
});

test('HTTP/1.1 over TLS is proxied with X-Forwarded-Proto https', async () => {
  const agent = new Agent({ connect: { ca: ca.certPem, servername: 'b.example.com' } });
  try {
    const r = await request(`https://127.0.0.1:${port}/hello`, { dispatcher: agent, headers: { host: 'b.example.com' } });
    assert.equal(r.statusCode, 200);
    const seen = (await r.body.json()) as { headers: Record<string, string> };
    assert.equal(seen.headers['x-forwarded-proto'], 'https');
    assert.equal(seen.headers.host, 'b.example.com');
  } finally {
    await agent.close();
  }
});

test('HTTP/2 is negotiated by ALPN and proxied', async () => {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.certPem, servername: 'a.example.com' });
  try {
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = session.request({ ':path': '/h2?x=1', ':authority': 'a.example.com' });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (d) => (body += d));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end();
    });
    assert.equal(status, 200);
    const seen = JSON.parse(body);
    assert.equal(seen.url, '/h2?x=1');
    assert.equal(seen.headers.host, 'a.example.com', ':authority becomes Host upstream');
  } finally {
    session.close();
  }
});

test('a changed certificate Secret is served without a restart', async () => {
  const before = (await servedCert('a.example.com')).serialNumber;
  await gw.write(await config('a.example.com'));
  const end = Date.now() + 5000;
  while ((await servedCert('a.example.com')).serialNumber === before) {
    if (Date.now() > end) assert.fail('the new certificate was not served');
    await new Promise((r) => setTimeout(r, 25));
  }
});
