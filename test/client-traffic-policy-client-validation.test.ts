// ClientTrafficPolicy tls.clientValidation beyond caCertificateRefs, over real
// TLS sockets: crl (revocation lists from Secrets/ConfigMaps, whole chain or
// leaf only). The client PKI: root → intermediate → leaves; the listener trusts
// the root, clients send their leaf with the intermediate.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, statusOf } from './helpers/eg-quickstart.ts';
import { blockLines, ctpOnTls, edgeTlsYaml, serveEdgeTls, statusWith, type EdgeTlsSite } from './helpers/edge-tls.ts';
import { parseYamlResources } from '../src/resources/load.ts';
import { translate, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { makeCa, makeIntermediateCa, issueServerCert, issueClientCert, makeCrl, type IssuedCert, type RootCa } from './helpers/certs.ts';

let up: Upstream;
let gw: TestGateway;
let site: EdgeTlsSite;
/** root → intermediate → alice, bob (bob is the one revoked). */
let pki: { root: RootCa; intermediate: IssuedCert; alice: IssuedCert; bob: IssuedCert };

before(async () => {
  up = await startUpstream('backend');
  const [port, tlsPort] = [await freePort(), await freePort()];
  const [ca, root] = [await makeCa(), await makeCa({ commonName: 'client-root' })];
  const intermediate = await makeIntermediateCa(root, { commonName: 'client-intermediate' });
  pki = { root, intermediate, alice: await issueClientCert(intermediate, { commonName: 'alice' }), bob: await issueClientCert(intermediate, { commonName: 'bob' }) };
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
