// Certificates for tests, generated at run time (ECDSA P-256 by default; pass
// keyAlgorithm: 'rsa-2048' for RSA). A thin layer over src/ca so that tests exercise
// the same code `portcullis ca` uses. Every function returns PEM strings:
//
//   const ca = await makeCa();
//   const server = await issueServerCert(ca, { hostnames: ['localhost'], ips: ['127.0.0.1'] });
//   https.createServer({ cert: server.certPem, key: server.keyPem, ca: ca.certPem, requestCert: true })
//   const client = await issueClientCert(ca, { uris: ['spiffe://cluster.local/ns/a/sa/b'] });
//   const old = await issueClientCert(ca, { commonName: 'x', expired: true });
import {
  createRootCa,
  issueClientCert as caIssueClientCert,
  issueIntermediateCa,
  issueServerCert as caIssueServerCert,
  issueWorkloadCert as caIssueWorkloadCert,
  type CertAndKey,
  type ClientCertNames,
  type IssuedCert,
  type RootCa,
  type ValidityOptions,
  type WorkloadCert,
} from '../../src/ca/ca.ts';
import { x509, wcrypto } from '../../src/ca/x509.ts';
import { importPrivateKeyPem } from '../../src/ca/keys.ts';

export type { CertAndKey, IssuedCert, RootCa, WorkloadCert, ValidityOptions };

/** A self-signed root CA. `expired: true` makes one that is no longer valid. */
export function makeCa(opts: { commonName?: string; trustDomain?: string } & ValidityOptions = {}): Promise<RootCa> {
  return createRootCa(opts);
}

/** An intermediate CA under `ca`; certificates it issues carry the full chain in chainPem. */
export function makeIntermediateCa(ca: CertAndKey, opts: { commonName?: string } & ValidityOptions = {}): Promise<IssuedCert> {
  return issueIntermediateCa(ca, opts);
}

/** A TLS server certificate with DNS (and optional IP) SANs. */
export function issueServerCert(ca: CertAndKey, opts: { hostnames: string[]; ips?: string[] } & ValidityOptions): Promise<IssuedCert> {
  return caIssueServerCert(ca, opts);
}

/** The usual test server: localhost, 127.0.0.1 and ::1. */
export function issueLocalhostCert(ca: CertAndKey, opts: ValidityOptions = {}): Promise<IssuedCert> {
  return caIssueServerCert(ca, { hostnames: ['localhost'], ips: ['127.0.0.1', '::1'], ...opts });
}

/** A TLS client certificate with a common name and/or SANs: URIs (e.g. SPIFFE ids), DNS names, e-mail and IP addresses, otherName strings. */
export function issueClientCert(ca: CertAndKey, opts: ClientCertNames & ValidityOptions = {}): Promise<IssuedCert> {
  return caIssueClientCert(ca, opts);
}

/** An Istio-style workload certificate for spiffe://<td>/ns/<namespace>/sa/<serviceAccount>. */
export function issueWorkloadCert(
  ca: CertAndKey,
  opts: { namespace: string; serviceAccount: string; trustDomain?: string } & ValidityOptions,
): Promise<WorkloadCert> {
  return caIssueWorkloadCert(ca, opts);
}

/**
 * A CRL signed by `ca` revoking `revoked` (certificates or hex serials), PEM
 * labelled "CRL" as openssl writes it. Valid from a minute ago until
 * `nextUpdate` (a day from now unless given).
 */
export async function makeCrl(ca: CertAndKey, revoked: ({ serialNumber: string } | string)[], opts: { nextUpdate?: Date } = {}): Promise<string> {
  const key = await importPrivateKeyPem(ca.keyPem);
  const sign = key.params.sign.name === 'ECDSA' ? key.params.sign : { ...key.params.sign, hash: (key.params.key as { hash: string }).hash };
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.X509Certificate(ca.certPem).subjectName,
    thisUpdate: new Date(Date.now() - 60_000),
    nextUpdate: opts.nextUpdate ?? new Date(Date.now() + 86_400_000),
    signingAlgorithm: sign,
    signingKey: key.privateKey,
    entries: revoked.map((r) => ({ serialNumber: typeof r === 'string' ? r : r.serialNumber, revocationDate: new Date(Date.now() - 30_000) })),
  }, wcrypto);
  return `${crl.toString('pem')}\n`;
}
