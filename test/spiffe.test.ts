// SPIFFE workload identity: strict parsing, and URI SANs read from real peer
// certificates as node:tls reports them (quoted values, several URIs, hostile SANs).
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { parseSpiffeId, peerIdentityFromUris, urisFromPeerCertificate, urisFromSubjectAltName, formatSpiffeId } from '../src/auth/spiffe.ts';
import { makeCa, issueClientCert, type RootCa } from './helpers/certs.ts';

let ca: RootCa;
before(async () => {
  ca = await makeCa();
});

/** The subjectaltname string node:tls would report for a certificate with these SANs. */
async function sanOf(uris: string[], dnsNames: string[] = []): Promise<string> {
  const c = await issueClientCert(ca, { uris, dnsNames, commonName: 'x' });
  return new X509Certificate(c.certPem).subjectAltName ?? '';
}

test('parseSpiffeId accepts exactly spiffe://<td>/ns/<ns>/sa/<sa>', () => {
  assert.deepEqual(parseSpiffeId('spiffe://cluster.local/ns/default/sa/sleep'), { trustDomain: 'cluster.local', namespace: 'default', serviceAccount: 'sleep' });
  assert.deepEqual(parseSpiffeId('spiffe://td_1-x.org/ns/a.b/sa/A_b-c.d'), { trustDomain: 'td_1-x.org', namespace: 'a.b', serviceAccount: 'A_b-c.d' });
  const bad = [
    '', 'spiffe://', 'spiffe://cluster.local', 'spiffe://cluster.local/', 'spiffe://cluster.local/ns/default',
    'spiffe://cluster.local/ns/default/sa', 'spiffe://cluster.local/ns/default/sa/', 'spiffe://cluster.local/ns//sa/x',
    'spiffe://cluster.local/ns/default/sa/x/extra', 'spiffe://cluster.local/sa/x/ns/default', 'SPIFFE://cluster.local/ns/a/sa/b',
    'https://cluster.local/ns/a/sa/b', 'spiffe://Cluster.Local/ns/a/sa/b', 'spiffe://user@td/ns/a/sa/b', 'spiffe://td:443/ns/a/sa/b',
    'spiffe://td/ns/a/sa/b?x=1', 'spiffe://td/ns/a/sa/b#f', 'spiffe://td/ns/%61/sa/b', 'spiffe://td/ns/../sa/b', 'spiffe://td/ns/./sa/b',
    'spiffe://td/ns/a/sa/b\n', ' spiffe://td/ns/a/sa/b', 'spiffe://td/ns/a,b/sa/c', 'spiffe://td/ns/a/sa/b/', 'spiffe:///ns/a/sa/b',
    `spiffe://td/ns/${'a'.repeat(2040)}/sa/b`,
  ];
  for (const b of bad) assert.equal(parseSpiffeId(b), undefined, JSON.stringify(b));
  assert.equal(parseSpiffeId(undefined as unknown as string), undefined);
});

test('formatSpiffeId validates with Kubernetes naming rules', () => {
  assert.equal(formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'ns', serviceAccount: 'sa.x' }), 'spiffe://cluster.local/ns/ns/sa/sa.x');
  assert.throws(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'NS', serviceAccount: 'sa' }), /namespace/);
  assert.throws(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'a'.repeat(64), serviceAccount: 'sa' }), /namespace/);
  assert.throws(() => formatSpiffeId({ trustDomain: 'cluster.local', namespace: 'ns', serviceAccount: '-sa' }), /service account/);
  assert.throws(() => formatSpiffeId({ trustDomain: 'a/b', namespace: 'ns', serviceAccount: 'sa' }), /trust domain/);
});

test('peerIdentityFromUris: principal without scheme, namespace; first spiffe URI decides', () => {
  assert.deepEqual(peerIdentityFromUris(['spiffe://cluster.local/ns/foo/sa/bar']), { principal: 'cluster.local/ns/foo/sa/bar', namespace: 'foo' });
  assert.deepEqual(peerIdentityFromUris(['https://example.com/x', 'spiffe://td/ns/a/sa/b']), { principal: 'td/ns/a/sa/b', namespace: 'a' });
  assert.deepEqual(peerIdentityFromUris(['spiffe://td/ns/a/sa/b', 'spiffe://td/ns/admin/sa/root']), { principal: 'td/ns/a/sa/b', namespace: 'a' });
  // A first SPIFFE id of another shape is no identity; a later one cannot stand in for it.
  assert.equal(peerIdentityFromUris(['spiffe://td/workload/x', 'spiffe://td/ns/admin/sa/root']), undefined);
  assert.equal(peerIdentityFromUris([]), undefined);
  assert.equal(peerIdentityFromUris(['urn:x', 'https://td/ns/a/sa/b']), undefined);
});

test('urisFromPeerCertificate reads several URIs among other SAN types from a real certificate', async () => {
  const san = await sanOf(['spiffe://cluster.local/ns/a/sa/b', 'https://example.com/p'], ['a.example']);
  assert.equal(san, 'URI:spiffe://cluster.local/ns/a/sa/b, URI:https://example.com/p, DNS:a.example');
  assert.deepEqual(urisFromPeerCertificate({ subjectaltname: san }), ['spiffe://cluster.local/ns/a/sa/b', 'https://example.com/p']);
});

test('a comma inside a URI SAN cannot forge a second entry', async () => {
  // The attacker-controlled value tries to look like ", URI:spiffe://.../sa/admin".
  const san = await sanOf(['spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/kube-system/sa/admin']);
  assert.match(san, /^URI:"/, 'node quotes values containing delimiters');
  const uris = urisFromSubjectAltName(san);
  assert.deepEqual(uris, ['spiffe://td/ns/a/sa/b, URI:spiffe://td/ns/kube-system/sa/admin']);
  assert.equal(peerIdentityFromUris(uris), undefined);
  const san2 = await sanOf(['spiffe://a,b/ns/x/sa/y', 'spiffe://td/ns/ok/sa/ok']);
  assert.deepEqual(urisFromSubjectAltName(san2), ['spiffe://a,b/ns/x/sa/y', 'spiffe://td/ns/ok/sa/ok']);
  assert.equal(peerIdentityFromUris(urisFromSubjectAltName(san2)), undefined, 'the first spiffe URI is malformed: no identity');
});

test('urisFromSubjectAltName: quoted values with escapes, and malformed strings fail closed', () => {
  assert.deepEqual(urisFromSubjectAltName('DirName:"CN=a\\u002cO=b", URI:spiffe://td/ns/a/sa/b'), ['spiffe://td/ns/a/sa/b']);
  assert.deepEqual(urisFromSubjectAltName('email:"a\\"b@x", URI:"u\\\\v"'), ['u\\v']);
  assert.deepEqual(urisFromSubjectAltName('IP Address:127.0.0.1, URI:spiffe://td/ns/a/sa/b'), ['spiffe://td/ns/a/sa/b']);
  assert.deepEqual(urisFromSubjectAltName(undefined), []);
  assert.deepEqual(urisFromSubjectAltName(''), []);
  for (const bad of ['URI', 'URI:"unterminated', 'URI:"a"x, URI:spiffe://td/ns/a/sa/b', 'URI:"\\x", URI:b', 'URI:a,URI:b', 'URI:a, ', 'URI:a, junk']) {
    assert.deepEqual(urisFromSubjectAltName(bad), [], bad);
  }
  assert.deepEqual(urisFromPeerCertificate({}), [], 'getPeerCertificate() returns {} without a peer certificate');
  assert.deepEqual(urisFromPeerCertificate(null), []);
});
