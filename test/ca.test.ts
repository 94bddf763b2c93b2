// The CA library and the test certificate helpers: what they issue must be what
// OpenSSL (node:tls) accepts or refuses, checked over real TLS connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { makeCa, makeIntermediateCa, issueLocalhostCert, issueServerCert, issueClientCert, issueWorkloadCert, type RootCa, type IssuedCert } from './helpers/certs.ts';
import { createRootCa, trustDomainOfCa } from '../src/ca/ca.ts';
import { parseTtl } from '../src/ca/duration.ts';
import { parseCertificateBundle } from '../src/ca/pem.ts';
import { x509 } from '../src/ca/x509.ts';

let ca: RootCa;
let server: IssuedCert;
let tlsServer: tls.Server;
let port: number;

before(async () => {
  ca = await makeCa({ trustDomain: 'example.org' });
  server = await issueLocalhostCert(ca);
  tlsServer = tls.createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true, rejectUnauthorized: true }, (s) => {
    const peer = s.getPeerCertificate();
    s.end(`ok ${peer.subjectaltname ?? peer.subject?.CN ?? ''}`);
  });
  tlsServer.on('tlsClientError', () => {});
  await new Promise<void>((r) => tlsServer.listen(0, '127.0.0.1', r));
  port = (tlsServer.address() as AddressInfo).port;
});

after(() => new Promise<void>((r) => tlsServer.close(() => r())));

/** Connects with mTLS; resolves the server's reply, rejects with the handshake error. */
function connect(opts: tls.ConnectionOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = tls.connect({ host: '127.0.0.1', port, ...opts });
    let data = '';
    s.setEncoding('utf8');
    s.on('data', (d) => (data += d));
    s.on('end', () => (data ? resolve(data) : reject(new Error('closed without reply'))));
    s.on('error', reject);
  });
}

test('root CA: self-signed, CA:true, keyCertSign, trust domain in a spiffe:// URI SAN', () => {
  const c = new X509Certificate(ca.certPem);
  assert.equal(c.ca, true);
  assert.ok(c.checkIssued(c));
  assert.ok(c.verify(c.publicKey));
  assert.equal(c.subjectAltName, 'URI:spiffe://example.org');
  assert.equal(trustDomainOfCa(ca.certPem), 'example.org');
  const parsed = new x509.X509Certificate(c.raw);
  const ku = parsed.getExtension(x509.KeyUsagesExtension);
  assert.ok(ku?.critical && ku.usages & x509.KeyUsageFlags.keyCertSign && ku.usages & x509.KeyUsageFlags.cRLSign);
  const bc = parsed.getExtension(x509.BasicConstraintsExtension);
  assert.ok(bc?.critical && bc.ca);
  assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
});

test('workload certificate: SPIFFE URI SAN, empty subject, 24h, server+client EKU, chains to the root', async () => {
  const w = await issueWorkloadCert(ca, { namespace: 'foo', serviceAccount: 'bar' });
  const c = new X509Certificate(w.certPem);
  assert.equal(w.spiffeId, 'spiffe://example.org/ns/foo/sa/bar');
  assert.equal(c.subjectAltName, 'URI:spiffe://example.org/ns/foo/sa/bar');
  assert.equal(c.subject, undefined);
  assert.equal(c.ca, false);
  assert.deepEqual([...(c.keyUsage ?? [])].sort(), ['1.3.6.1.5.5.7.3.1', '1.3.6.1.5.5.7.3.2']);
  assert.ok(c.checkIssued(new X509Certificate(ca.certPem)));
  const life = w.notAfter.getTime() - Date.now();
  assert.ok(life > 23.9 * 3600e3 && life <= 24 * 3600e3 + 1000, `lifetime ${life}`);
  assert.equal(parseCertificateBundle(w.chainPem).certificates.length, 2);
});

test('workload certificate refuses names Kubernetes would not allow', async () => {
  await assert.rejects(issueWorkloadCert(ca, { namespace: 'Foo', serviceAccount: 'bar' }), /invalid namespace/);
  await assert.rejects(issueWorkloadCert(ca, { namespace: 'foo/sa/x', serviceAccount: 'bar' }), /invalid namespace/);
  await assert.rejects(issueWorkloadCert(ca, { namespace: 'foo', serviceAccount: '' }), /invalid service account/);
  await assert.rejects(issueWorkloadCert(ca, { namespace: 'foo', serviceAccount: 'a', trustDomain: 'Bad TD' }), /invalid trust domain/);
});

test('a certificate may not outlive its CA; ttl is honoured', async () => {
  const short = await createRootCa({ ttlMs: 3600e3 });
  await assert.rejects(issueWorkloadCert(short, { namespace: 'a', serviceAccount: 'b' }), /outlive its CA/);
  const ok = await issueWorkloadCert(short, { namespace: 'a', serviceAccount: 'b', ttlMs: 600e3 });
  assert.ok(ok.notAfter.getTime() - Date.now() <= 600e3 + 1000);
});

test('mTLS handshake: server cert for localhost/127.0.0.1, client cert from the same CA accepted', async () => {
  const client = await issueClientCert(ca, { uris: ['spiffe://example.org/ns/a/sa/b'] });
  const reply = await connect({ ca: ca.certPem, servername: 'localhost', cert: client.certPem, key: client.keyPem });
  assert.equal(reply, 'ok URI:spiffe://example.org/ns/a/sa/b');
  // IP SAN: verification by address (no SNI) works too.
  assert.match(await connect({ ca: ca.certPem, cert: client.certPem, key: client.keyPem, checkServerIdentity: (h, c) => tls.checkServerIdentity('127.0.0.1', c) }), /^ok/);
});

test('mTLS handshake refused: client cert from another CA, expired client cert, no client cert', async () => {
  const other = await makeCa();
  const foreign = await issueClientCert(other, { commonName: 'mallory' });
  await assert.rejects(connect({ ca: ca.certPem, servername: 'localhost', cert: foreign.certPem, key: foreign.keyPem }));
  const expired = await issueClientCert(ca, { commonName: 'old', expired: true });
  assert.ok(expired.notAfter.getTime() < Date.now());
  await assert.rejects(connect({ ca: ca.certPem, servername: 'localhost', cert: expired.certPem, key: expired.keyPem }));
  await assert.rejects(connect({ ca: ca.certPem, servername: 'localhost' }));
});

test('client refuses a server certificate for another name, an expired one, or one from an unknown CA', async () => {
  const client = await issueClientCert(ca, { commonName: 'c' });
  await assert.rejects(connect({ ca: ca.certPem, servername: 'other.example', cert: client.certPem, key: client.keyPem }), /altnames|Hostname/i);
  const other = await makeCa();
  await assert.rejects(connect({ ca: other.certPem, servername: 'localhost', cert: client.certPem, key: client.keyPem }), /self-signed|unable to verify|local issuer/i);
  const expired = await issueServerCert(ca, { hostnames: ['localhost'], expired: true });
  const s = tls.createServer({ cert: expired.certPem, key: expired.keyPem }, (sock) => sock.end('x'));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  try {
    await assert.rejects(new Promise((resolve, reject) => {
      const c = tls.connect({ host: '127.0.0.1', port: (s.address() as AddressInfo).port, ca: ca.certPem, servername: 'localhost' }, () => resolve(c.end()));
      c.on('error', reject);
    }), /expired/);
  } finally {
    await new Promise<void>((r) => s.close(() => r()));
  }
});

test('intermediate CA: a leaf presenting its chain is accepted by a server trusting only the root; RSA keys work', async () => {
  const inter = await makeIntermediateCa(ca, { keyAlgorithm: 'rsa-2048' });
  assert.equal(new X509Certificate(inter.certPem).ca, true);
  const leaf = await issueWorkloadCert(inter, { namespace: 'ns1', serviceAccount: 'sa1' });
  assert.equal(leaf.spiffeId, 'spiffe://example.org/ns/ns1/sa/sa1', 'trust domain inherited through the intermediate');
  assert.equal(parseCertificateBundle(leaf.chainPem).certificates.length, 3);
  assert.equal(await connect({ ca: ca.certPem, servername: 'localhost', cert: leaf.chainPem, key: leaf.keyPem }), 'ok URI:spiffe://example.org/ns/ns1/sa/sa1');
  // Without the intermediate the chain cannot be built.
  await assert.rejects(connect({ ca: ca.certPem, servername: 'localhost', cert: leaf.certPem, key: leaf.keyPem }));
  // An intermediate given with only its parents as chain (CRLF, as read from another tool) works the same.
  const loose = { certPem: inter.certPem, keyPem: inter.keyPem, chainPem: ca.certPem.replace(/\n/g, '\r\n') };
  const leaf2 = await issueClientCert(loose, { commonName: 'c2' });
  assert.equal(leaf2.chainPem, leaf2.certPem + inter.certPem + ca.certPem);
  assert.match(await connect({ ca: ca.certPem, servername: 'localhost', cert: leaf2.chainPem, key: leaf2.keyPem }), /^ok/);
  await assert.rejects(issueClientCert({ ...loose, chainPem: 'junk' }, { commonName: 'x' }), /CA chain is not usable/);
});

test('loading a CA: mismatched key, non-CA certificate and garbage are refused without quoting the key', async () => {
  const other = await makeCa();
  await assert.rejects(issueClientCert({ certPem: ca.certPem, keyPem: other.keyPem }, { commonName: 'x' }), /does not match/);
  await assert.rejects(issueClientCert({ certPem: server.certPem, keyPem: server.keyPem }, { commonName: 'x' }), /not a CA/);
  await assert.rejects(issueClientCert({ certPem: 'garbage', keyPem: ca.keyPem }, { commonName: 'x' }), /not a readable PEM certificate/);
  const err = await issueClientCert({ certPem: ca.certPem, keyPem: '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n' }, { commonName: 'x' }).catch((e: Error) => e);
  assert.ok(err instanceof Error);
  assert.doesNotMatch(err.message, /AAAA|BEGIN/);
});

test('server certificate input validation', async () => {
  await assert.rejects(issueServerCert(ca, { hostnames: [] }), /at least one/);
  await assert.rejects(issueServerCert(ca, { hostnames: ['bad host'] }), /invalid hostname/);
  await assert.rejects(issueServerCert(ca, { hostnames: ['a.example'], ips: ['999.1.1.1'] }), /invalid IP/);
  const wild = await issueServerCert(ca, { hostnames: ['*.example.com'], ips: ['::1'] });
  assert.equal(new X509Certificate(wild.certPem).subjectAltName, 'DNS:*.example.com, IP Address:0:0:0:0:0:0:0:1');
});

test('parseTtl', () => {
  assert.equal(parseTtl('24h'), 86_400_000);
  assert.equal(parseTtl('1h30m'), 5_400_000);
  assert.equal(parseTtl('30d'), 30 * 86_400_000);
  assert.equal(parseTtl('45s'), 45_000);
  for (const bad of ['', '0h', '24', 'h', '-1h', '1.5h', '24H', '1y', '99999999h', '3651d', ' 24h']) assert.throws(() => parseTtl(bad), /invalid duration/, bad);
});

test('parseCertificateBundle: accepts bundles, refuses keys, garbage and damaged blocks', () => {
  const two = ca.certPem + server.certPem;
  assert.equal(parseCertificateBundle(two).certificates.length, 2);
  assert.equal(parseCertificateBundle(two.replace(/\n/g, '\r\n')).certificates.length, 2);
  assert.throws(() => parseCertificateBundle(''), /no PEM certificate/);
  assert.throws(() => parseCertificateBundle('hello'), /no PEM certificate/);
  assert.throws(() => parseCertificateBundle(ca.keyPem), /PRIVATE KEY, expected CERTIFICATE/);
  assert.throws(() => parseCertificateBundle(ca.certPem.replace(/[A-Za-z]{10}\n/, 'AAAAAAAAAA\n')), /does not parse/);
  assert.throws(() => parseCertificateBundle(ca.certPem + '-----BEGIN CERTIFICATE-----\nAAAA\n'), /malformed PEM/);
  assert.throws(() => parseCertificateBundle(ca.certPem.replace('-----END CERTIFICATE-----', '-----END CERTIFICATE----')), /malformed PEM|no PEM/);
});
