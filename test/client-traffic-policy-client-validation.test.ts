// ClientTrafficPolicy tls.clientValidation beyond caCertificateRefs, over real
// TLS sockets: crl (revocation lists from Secrets/ConfigMaps, whole chain or
// leaf only), spkiHashes / certificateHashes, subjectAltNames, and optional
// with a certificate that does not verify. The client PKI: root → intermediate → leaves; the listener trusts
// the root, clients send their leaf with the intermediate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { explain, parseRequestLine } from '../src/cli/explain.ts';
import { createHash, X509Certificate } from 'node:crypto';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, statusOf } from './helpers/eg-quickstart.ts';
import { blockLines, ctpOnTls, edgeTlsRequest, edgeTlsYaml, quotedPem, serveEdgeTls, statusWith, type EdgeTlsSite } from './helpers/edge-tls.ts';
import { parseYamlResources } from '../src/resources/load.ts';
import { translate, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { makeCa, makeIntermediateCa, issueServerCert, issueClientCert, makeCrl, type IssuedCert, type RootCa } from './helpers/certs.ts';

let up: Upstream;
let gw: TestGateway;
let site: EdgeTlsSite;
/** root → intermediate → alice, bob (bob is the one revoked), carol (every SAN type); mallory from a CA the listener does not trust. */
let pki: { root: RootCa; intermediate: IssuedCert; alice: IssuedCert; bob: IssuedCert; carol: IssuedCert; mallory: IssuedCert };

before(async () => {
  up = await startUpstream('backend');
  const [port, tlsPort] = [await freePort(), await freePort()];
  const [ca, root] = [await makeCa(), await makeCa({ commonName: 'client-root' })];
  const intermediate = await makeIntermediateCa(root, { commonName: 'client-intermediate' });
  pki = {
    root,
    intermediate,
    alice: await issueClientCert(intermediate, { commonName: 'alice', dnsNames: ['alice.example.com'] }),
    bob: await issueClientCert(intermediate, { commonName: 'bob', emails: ['bob@example.org'] }),
    carol: await issueClientCert(intermediate, {
      dnsNames: ['*.carol.example.com'], emails: ['carol@example.com'], ips: ['10.1.2.3', '2001:db8::7'], uris: ['spiffe://example.com/carol'],
      otherNames: [{ oid: '1.3.6.1.4.1.311.20.2.3', value: 'carol@corp.example.com' }],
    }),
    mallory: await issueClientCert(await makeCa({ commonName: 'other-root' }), { commonName: 'mallory' }),
  };
  gw = await startGateway(egQuickstart(port, up.port));
  site = { gw, port, tlsPort, upstreamPort: up.port, ca, serverCert: await issueServerCert(ca, { hostnames: ['www.example.com'] }), clientCaPem: root.certPem };
});

after(async () => {
  await gw?.close();
  await up?.close();
});

/** The errors translate names for `yaml`, one a line. */
function translateErrors(yaml: string): string {
  const parsed = parseYamlResources(yaml, 'test.yaml');
  return translate(parsed.resources.map((r, i) => ({ ...r, seq: i })), DEFAULT_TRANSLATE_OPTIONS).errors.map((e) => e.message).join('\n');
}

/** A Secret (data, base64) or ConfigMap (data, text) `name` with key ca.crl. */
function crlObject(kind: 'Secret' | 'ConfigMap', name: string, pem: string): string {
  const data = kind === 'Secret' ? `data: { ca.crl: ${Buffer.from(pem).toString('base64')} }` : `data:\n  ca.crl: |\n${blockLines(pem, 4)}`;
  return `---\napiVersion: v1\nkind: ${kind}\nmetadata: { name: ${name}, namespace: default }\n${data}\n`;
}

/** The policy: client CA client-ca, crl refs as given (YAML flow list), `extra` crl fields. */
const crlPolicy = (refs: string, extra = '') => ctpOnTls(`  tls:
    clientValidation:
      caCertificateRefs: [{ kind: ConfigMap, name: client-ca }]
      crl: { refs: ${refs}${extra} }`);

describe('tls.clientValidation.crl', () => {
  test('whole chain (the default): a revoked leaf and a leaf under a revoked intermediate are refused; each CA needs its CRL', async () => {
    const rootCrl = await makeCrl(pki.root, []);
    const interCrl = await makeCrl(pki.intermediate, [pki.bob]);
    // Both CRLs in one Secret (as openssl concatenates them), and again split over a Secret and a ConfigMap.
    await serveEdgeTls(site, crlObject('Secret', 'crls', rootCrl + interCrl) + crlPolicy('[{ name: crls }]'));
    assert.equal(await statusWith(site, pki.alice), 200);
    assert.equal(await statusWith(site, pki.bob), 'refused', 'bob is revoked');
    assert.equal(await statusWith(site, undefined), 'refused', 'no certificate: refused as before');
    await serveEdgeTls(site, crlObject('Secret', 'root-crl', rootCrl) + crlObject('ConfigMap', 'inter-crl', interCrl) +
      crlPolicy('[{ name: root-crl }, { kind: ConfigMap, name: inter-crl }]'));
    assert.equal(await statusWith(site, pki.alice), 200);
    assert.equal(await statusWith(site, pki.bob), 'refused');
    await serveEdgeTls(site, crlObject('Secret', 'crls', (await makeCrl(pki.root, [pki.intermediate])) + interCrl) + crlPolicy('[{ name: crls }]'));
    assert.equal(await statusWith(site, pki.alice), 'refused', 'the intermediate is revoked: all it issued is refused');
    await serveEdgeTls(site, crlObject('Secret', 'crls', interCrl) + crlPolicy('[{ name: crls }]'));
    assert.equal(await statusWith(site, pki.alice), 'refused', 'no CRL for the root: the chain cannot be checked (Envoy: every CA of the chain needs its CRL)');
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('a missing, empty or malformed CRL refuses the configuration (the last good one keeps serving), naming the ref', async () => {
    await serveEdgeTls(site, crlObject('Secret', 'crls', (await makeCrl(pki.root, [])) + (await makeCrl(pki.intermediate, [pki.bob]))) + crlPolicy('[{ name: crls }]'));
    const broken = '-----BEGIN X509 CRL-----\nMIIBAAAA\n-----END X509 CRL-----\n';
    for (const [extra, why] of [
      [crlPolicy('[{ name: nowhere }]'), /crl\.refs\[0\]: Secret default\/nowhere not found/],
      [crlObject('Secret', 'crls', 'not a crl') + crlPolicy('[{ name: crls }]'), /crl\.refs\[0\]: Secret default\/crls "ca\.crl" holds no PEM CRL/],
      [crlObject('ConfigMap', 'crls', broken) + crlPolicy('[{ kind: ConfigMap, name: crls }]'), /crl\.refs\[0\]: ConfigMap default\/crls "ca\.crl" CRL 1 does not load/],
    ] as const) {
      const yaml = edgeTlsYaml(site, extra);
      assert.match(translateErrors(yaml), why);
      await gw.write(yaml);
      assert.equal(await gw.instance.reload(), false, String(why));
      assert.equal(await statusWith(site, pki.bob), 'refused', 'the running configuration still refuses bob');
      assert.equal(await statusWith(site, pki.alice), 200);
    }
    await gw.write(edgeTlsYaml(site, crlPolicy('[]')));
    assert.equal(await gw.instance.reload(), false, 'refs: [] is refused at validation (1 to 8 refs)');
  });
});

describe('tls.clientValidation.crl.onlyVerifyLeafCertificate', () => {
  test('only the leaf is looked up, in its issuer\'s CRL: a revoked intermediate passes; a revoked leaf, a missing, expired or forged CRL do not', async () => {
    const serveLeafOnly = (pem: string) => serveEdgeTls(site, crlObject('Secret', 'crls', pem) + crlPolicy('[{ name: crls }]', ', onlyVerifyLeafCertificate: true'));
    await serveLeafOnly(await makeCrl(pki.intermediate, [pki.bob]));
    assert.equal(await statusWith(site, pki.alice), 200, 'no CRL for the root is needed');
    assert.equal(await statusWith(site, pki.bob), 'refused', 'bob is revoked');
    await serveLeafOnly((await makeCrl(pki.root, [pki.intermediate])) + (await makeCrl(pki.intermediate, [])));
    assert.equal(await statusWith(site, pki.alice), 200, 'the revoked intermediate is not checked');
    await serveLeafOnly(await makeCrl(pki.root, []));
    assert.equal(await statusWith(site, pki.alice), 'refused', 'no CRL for the leaf\'s issuer');
    await serveLeafOnly(await makeCrl(pki.intermediate, [], { nextUpdate: new Date(Date.now() - 1000) }));
    assert.equal(await statusWith(site, pki.alice), 'refused', 'the CRL has expired');
    // A CA of the same name under another root: its CRL names the intermediate as issuer but is not signed by it.
    const impostor = await makeIntermediateCa(await makeCa({ commonName: 'client-root' }), { commonName: 'client-intermediate' });
    await serveLeafOnly(await makeCrl(impostor, []));
    assert.equal(await statusWith(site, pki.alice), 'refused', 'a CRL the leaf\'s issuer did not sign');
  });
});

/** One HTTP/2 GET with `cert`: its status, or "refused" when the session ended without an answer. */
function h2Status(cert: IssuedCert): Promise<number | 'refused'> {
  return new Promise((resolve) => {
    const session = http2.connect(`https://127.0.0.1:${site.tlsPort}`, { ca: site.ca.certPem, servername: 'www.example.com', cert: cert.chainPem, key: cert.keyPem });
    session.on('error', () => resolve('refused'));
    session.on('close', () => resolve('refused'));
    const req = session.request({ ':path': '/get', host: 'www.example.com' });
    req.on('error', () => resolve('refused'));
    req.on('response', (h) => {
      resolve(Number(h[':status']));
      session.close();
    });
    req.resume();
    req.end();
  });
}

/** A policy validating against client-ca with `fields` (YAML lines, six-space indented) under clientValidation. */
const validation = (fields: string) => ctpOnTls(`  tls:
    clientValidation:
      caCertificateRefs: [{ kind: ConfigMap, name: client-ca }]
${fields}`);

describe('tls.clientValidation spkiHashes, certificateHashes', () => {
  const spki = (c: IssuedCert) => createHash('sha256').update(new X509Certificate(c.certPem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  const certHash = (c: IssuedCert) => new X509Certificate(c.certPem).fingerprint256;

  test('a verified certificate must match one hash of either list; certificateHashes with or without colons, any case', async () => {
    await serveEdgeTls(site, validation(`      spkiHashes: [${spki(pki.alice)}]`));
    assert.equal(await statusWith(site, pki.alice), 200);
    assert.equal(await statusWith(site, pki.bob), 'refused');
    await serveEdgeTls(site, validation(`      certificateHashes: [${certHash(pki.bob).replace(/:/g, '').toLowerCase()}]`));
    assert.equal(await statusWith(site, pki.bob), 200);
    assert.equal(await statusWith(site, pki.alice), 'refused');
    await serveEdgeTls(site, validation(`      spkiHashes: [${spki(pki.alice)}]\n      certificateHashes: ["${certHash(pki.bob)}"]`));
    assert.equal(await statusWith(site, pki.alice), 200);
    assert.equal(await statusWith(site, pki.bob), 200);
    assert.equal(await statusWith(site, pki.carol), 'refused');
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('over HTTP/2 too: the session of a certificate that does not match ends before any stream is answered', async () => {
    await serveEdgeTls(site, validation(`      spkiHashes: [${spki(pki.alice)}]`));
    assert.equal(await h2Status(pki.alice), 200);
    assert.equal(await h2Status(pki.bob), 'refused');
  });

  test('portcullis explain --peer-cert says a certificate that matches no hash is refused after the handshake', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'portcullis-explain-'));
    const file = join(dir, 'gw.yaml');
    await writeFile(file, edgeTlsYaml(site, validation(`      spkiHashes: [${spki(pki.alice)}]`)));
    const run = (cert: IssuedCert) => explain([file], parseRequestLine(`GET https://www.example.com:${site.tlsPort}/get`), { sourceIp: '127.0.0.1', rootNamespace: 'istio-system', pathNormalization: 'BASE', peerCertPem: cert.chainPem });
    const bob = await run(pki.bob);
    assert.equal(bob.code, 3);
    assert.match(bob.text, /^answer: connection closed after the handshake \(the client certificate matches no subjectAltNames matcher or no spkiHashes\/certificateHashes entry; curl prints 000\)$/m);
    assert.match((await run(pki.alice)).text, /^answer: proxied to/m);
  });

  test('a hash that is not a SHA-256 refuses the configuration, naming it', async () => {
    for (const [fields, why] of [
      ['      spkiHashes: [bm90IDMyIGJ5dGVz]', /spkiHashes\[0\]: "bm90IDMyIGJ5dGVz" is not a base64-encoded SHA-256/],
      ['      certificateHashes: ["AB:CD"]', /certificateHashes\[0\]: "AB:CD" is not a hex-encoded SHA-256/],
    ] as const) assert.match(translateErrors(edgeTlsYaml(site, validation(fields))), why);
  });
});

describe('tls.clientValidation.subjectAltNames', () => {
  test('each SAN type, each match type: one matcher matching one SAN of its type accepts', async () => {
    for (const [matchers, accepted, refused] of [
      ['dnsNames: [{ value: alice.example.com }]', pki.alice, pki.bob],
      ['dnsNames: [{ value: www.carol.example.com }]', pki.carol, pki.alice],
      ['dnsNames: [{ type: Suffix, value: .example.com }]', pki.alice, pki.bob],
      ['emailAddresses: [{ type: Suffix, value: "@example.org" }]', pki.bob, pki.carol],
      ['ipAddresses: [{ value: "2001:db8::7" }]', pki.carol, pki.alice],
      ['ipAddresses: [{ type: Prefix, value: "10.1." }]', pki.carol, pki.bob],
      ['uris: [{ type: RegularExpression, value: "spiffe://example\\\\.com/[a-z]+" }]', pki.carol, pki.alice],
      ['otherNames: [{ oid: 1.3.6.1.4.1.311.20.2.3, value: carol@corp.example.com }]', pki.carol, pki.alice],
      ['{ emailAddresses: [{ value: nobody@example.com }], uris: [{ type: Prefix, value: "spiffe://" }] }', pki.carol, pki.bob],
    ] as const) {
      const yaml = matchers.startsWith('{') ? matchers : `{ ${matchers} }`;
      await serveEdgeTls(site, validation(`      subjectAltNames: ${yaml}`));
      assert.equal(await statusWith(site, accepted), 200, `${matchers}: accepted`);
      assert.equal(await statusWith(site, refused), 'refused', `${matchers}: refused`);
    }
  });

  test('optional: no certificate passes, a certificate not matching does not; a bad pattern or OID refuses the configuration', async () => {
    await serveEdgeTls(site, validation('      optional: true\n      subjectAltNames: { dnsNames: [{ value: alice.example.com }] }'));
    assert.equal(await statusWith(site, undefined), 200);
    assert.equal(await statusWith(site, pki.alice), 200);
    assert.equal(await statusWith(site, pki.bob), 'refused');
    for (const [fields, why] of [
      ['      subjectAltNames: { uris: [{ type: RegularExpression, value: "(" }] }', /subjectAltNames\.uris\[0\]\.value: "\(" is not a valid RE2/],
      ['      subjectAltNames: { otherNames: [{ oid: upn, value: x }] }', /subjectAltNames\.otherNames\[0\]\.oid: "upn" is not a dotted OID/],
      ['      subjectAltNames: {}', /subjectAltNames: names no matcher/],
    ] as const) assert.match(translateErrors(edgeTlsYaml(site, validation(fields))), why);
  });
});

describe('tls.clientValidation.optional', () => {
  test('no certificate passes; a certificate from a CA not trusted is refused, as Envoy does (not served as if none were sent)', async () => {
    await serveEdgeTls(site, validation('      optional: true'));
    assert.equal(await statusWith(site, undefined), 200);
    assert.equal(await statusWith(site, pki.alice), 200);
    assert.equal(await statusWith(site, pki.mallory), 'refused');
  });
});

describe('headers.xForwardedClientCert certDetailsToAdd: Chain', () => {
  test('the client\'s chain, leaf first, without the root: URL-encoded PEM', async () => {
    await serveEdgeTls(site, validation(`  headers:
    xForwardedClientCert: { mode: SanitizeSet, certDetailsToAdd: [Chain] }`));
    assert.equal((await edgeTlsRequest(site, '/get', { cert: pki.alice })).status, 200);
    const hash = createHash('sha256').update(new X509Certificate(pki.alice.certPem).raw).digest('hex');
    assert.equal(up.seen[up.seen.length - 1].headers['x-forwarded-client-cert'], `Hash=${hash};Chain=${quotedPem([pki.alice.certPem, pki.intermediate.certPem])}`);
  });
});
