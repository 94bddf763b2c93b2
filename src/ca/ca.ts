// A small certificate authority: a root (or intermediate) that signs workload
// certificates carrying a SPIFFE URI SAN, and server/client certificates for TLS.
// Everything goes in and out as PEM.
import { createPublicKey, randomBytes, X509Certificate as NodeX509, type webcrypto } from 'node:crypto';
import { isIP } from 'node:net';
import { x509, wcrypto } from './x509.ts';
import { generateKey, importPrivateKeyPem, privateKeyToPem, type KeyAlgorithm, type SigningParams } from './keys.ts';
import { formatSpiffeId, isValidTrustDomain, urisFromSubjectAltName } from '../auth/spiffe.ts';
import { parseCertificateBundle } from './pem.ts';

export interface CertAndKey {
  certPem: string;
  keyPem: string;
  /**
   * For an intermediate CA: the chain up to the root, with or without certPem in front
   * (IssuedCert.chainPem has it). Absent: certPem is a root.
   */
  chainPem?: string;
}

export interface IssuedCert {
  certPem: string;
  keyPem: string;
  /** The certificate followed by its issuer's chain up to and including the root. */
  chainPem: string;
  notBefore: Date;
  notAfter: Date;
  serialNumber: string;
}

export interface RootCa extends IssuedCert {
  trustDomain: string;
}

export interface WorkloadCert extends IssuedCert {
  spiffeId: string;
}

/** When a certificate is valid. Default: from one minute ago (clock skew) for ttlMs. */
export interface ValidityOptions {
  ttlMs?: number;
  notBefore?: Date;
  notAfter?: Date;
  /** Valid yesterday only: for tests of refused expired certificates. */
  expired?: boolean;
  keyAlgorithm?: KeyAlgorithm;
}

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
export const DEFAULT_ROOT_TTL_MS = 3650 * DAY;
export const DEFAULT_INTERMEDIATE_TTL_MS = 365 * DAY;
/** Istio's default workload certificate lifetime. */
export const DEFAULT_WORKLOAD_TTL_MS = DAY;
export const DEFAULT_SERVER_TTL_MS = 90 * DAY;
export const DEFAULT_TRUST_DOMAIN = 'cluster.local';
const BACKDATE_MS = 60_000;

export async function createRootCa(opts: { commonName?: string; trustDomain?: string } & ValidityOptions = {}): Promise<RootCa> {
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  if (!isValidTrustDomain(trustDomain)) throw new Error(`invalid trust domain ${JSON.stringify(trustDomain)}: lowercase letters, digits, '.', '-', '_'`);
  const key = await generateKey(opts.keyAlgorithm);
  const { notBefore, notAfter } = validity(opts, DEFAULT_ROOT_TTL_MS);
  const serialNumber = newSerial();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber,
    name: [{ CN: [opts.commonName ?? 'Portcullis Root CA'] }, { O: [trustDomain] }],
    notBefore,
    notAfter,
    keys: key.keys,
    signingAlgorithm: signAlg(key.params),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(key.keys.publicKey, false, wcrypto),
      // SPIFFE: a signing certificate may carry the trust domain's own ID; it also
      // tells `portcullis ca issue` which trust domain this root is for.
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${trustDomain}` }], false),
    ],
  }, wcrypto);
  const certPem = cert.toString('pem') + '\n';
  return { certPem, keyPem: await privateKeyToPem(key.keys.privateKey), chainPem: certPem, notBefore, notAfter, serialNumber, trustDomain };
}

/** An intermediate CA under `ca` (Istio's recommended layout: an offline root, one intermediate per cluster). */
export async function issueIntermediateCa(ca: CertAndKey, opts: { commonName?: string } & ValidityOptions = {}): Promise<IssuedCert> {
  const signer = await loadSigner(ca);
  const key = await generateKey(opts.keyAlgorithm);
  return sign(signer, key.keys, opts, DEFAULT_INTERMEDIATE_TTL_MS, [{ CN: [opts.commonName ?? 'Portcullis Intermediate CA'] }], [
    new x509.BasicConstraintsExtension(true, 0, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
    ...(signer.trustDomain ? [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: `spiffe://${signer.trustDomain}` }], false)] : []),
  ]);
}

/**
 * A workload certificate (X.509-SVID) as Istio's CA issues it: empty subject, one
 * critical URI SAN `spiffe://<td>/ns/<ns>/sa/<sa>`, serverAuth + clientAuth, short-lived.
 */
export async function issueWorkloadCert(
  ca: CertAndKey,
  opts: { namespace: string; serviceAccount: string; trustDomain?: string; dnsNames?: string[] } & ValidityOptions,
): Promise<WorkloadCert> {
  const signer = await loadSigner(ca);
  const trustDomain = opts.trustDomain ?? signer.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const spiffeId = formatSpiffeId({ trustDomain, namespace: opts.namespace, serviceAccount: opts.serviceAccount });
  const key = await generateKey(opts.keyAlgorithm);
  const names: x509.JsonGeneralName[] = [{ type: 'url', value: spiffeId }, ...(opts.dnsNames ?? []).map((d) => ({ type: 'dns' as const, value: d }))];
  const issued = await sign(signer, key.keys, opts, DEFAULT_WORKLOAD_TTL_MS, [], [
    ...leafExtensions(key.algorithm, [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    // RFC 5280 §4.2.1.6: with an empty subject the SAN extension must be critical.
    new x509.SubjectAlternativeNameExtension(names, true),
  ]);
  return { ...issued, spiffeId };
}

/** A server certificate for a TLS listener: DNS and IP SANs, serverAuth. */
export async function issueServerCert(ca: CertAndKey, opts: { hostnames: string[]; ips?: string[] } & ValidityOptions): Promise<IssuedCert> {
  const ips = opts.ips ?? [];
  if (opts.hostnames.length === 0 && ips.length === 0) throw new Error('a server certificate needs at least one hostname or IP address');
  for (const h of opts.hostnames) checkHostname(h);
  const signer = await loadSigner(ca);
  const key = await generateKey(opts.keyAlgorithm);
  const names: x509.JsonGeneralName[] = [
    ...opts.hostnames.map((h) => ({ type: 'dns' as const, value: h })),
    ...ips.map((ip) => ({ type: 'ip' as const, value: checkIp(ip) })),
  ];
  const cn = opts.hostnames[0] ?? ips[0];
  return sign(signer, key.keys, opts, DEFAULT_SERVER_TTL_MS, [{ CN: [cn] }], [
    ...leafExtensions(key.algorithm, [x509.ExtendedKeyUsage.serverAuth]),
    new x509.SubjectAlternativeNameExtension(names, false),
  ]);
}

/** What a client certificate may name: URI SANs (SPIFFE ids), DNS names, e-mail addresses, IP addresses, otherName strings (UTF8String). */
export interface ClientCertNames {
  uris?: string[];
  commonName?: string;
  dnsNames?: string[];
  emails?: string[];
  ips?: string[];
  otherNames?: { oid: string; value: string }[];
}

/** A client certificate: optional SANs and common name, clientAuth. */
export async function issueClientCert(ca: CertAndKey, opts: ClientCertNames & ValidityOptions = {}): Promise<IssuedCert> {
  const signer = await loadSigner(ca);
  const key = await generateKey(opts.keyAlgorithm);
  const names: x509.JsonGeneralName[] = [
    ...(opts.uris ?? []).map((u) => ({ type: 'url' as const, value: u })),
    ...(opts.dnsNames ?? []).map((d) => ({ type: 'dns' as const, value: d })),
    ...(opts.emails ?? []).map((e) => ({ type: 'email' as const, value: e })),
    ...(opts.ips ?? []).map((ip) => ({ type: 'ip' as const, value: checkIp(ip) })),
  ];
  const others = opts.otherNames ?? [];
  const subject = opts.commonName ? [{ CN: [opts.commonName] }] : [];
  if (!opts.commonName && names.length === 0 && others.length === 0) throw new Error('a client certificate needs a common name or at least one SAN');
  return sign(signer, key.keys, opts, DEFAULT_WORKLOAD_TTL_MS, subject, [
    ...leafExtensions(key.algorithm, [x509.ExtendedKeyUsage.clientAuth]),
    ...(names.length || others.length ? [sanExtension(names, others, subject.length === 0)] : []),
  ]);
}

/** DER: a tag and its content. */
function der(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? Buffer.from([n]) : n < 0x100 ? Buffer.from([0x81, n]) : Buffer.from([0x82, n >> 8, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

function oidDer(oid: string): Buffer {
  const parts = oid.split('.').map(Number);
  if (parts.length < 2 || parts.some((p) => !Number.isInteger(p) || p < 0)) throw new Error(`invalid OID ${JSON.stringify(oid)}`);
  const bytes = [40 * parts[0] + parts[1]];
  for (const p of parts.slice(2)) {
    const b7: number[] = [p & 0x7f];
    for (let v = Math.floor(p / 128); v > 0; v = Math.floor(v / 128)) b7.unshift((v & 0x7f) | 0x80);
    bytes.push(...b7);
  }
  return der(0x06, Buffer.from(bytes));
}

/** subjectAltName with `names` and otherName entries (@peculiar/x509 writes only the UPN and GUID ones). */
function sanExtension(names: x509.JsonGeneralName[], others: { oid: string; value: string }[], critical: boolean): x509.Extension {
  const base = Buffer.from(new x509.SubjectAlternativeNameExtension(names, critical).value);
  // Its value is a SEQUENCE of GeneralName: keep its content, append the otherName ones ([0] { type-id, [0] EXPLICIT UTF8String }).
  const head = base[1] & 0x80 ? 2 + (base[1] & 0x7f) : 2;
  const extra = others.map((o) => der(0xa0, Buffer.concat([oidDer(o.oid), der(0xa0, der(0x0c, Buffer.from(o.value, 'utf8')))])));
  return new x509.Extension('2.5.29.17', critical, der(0x30, Buffer.concat([base.subarray(head), ...extra])));
}

/** The trust domain a CA certificate declares with a `spiffe://<td>` URI SAN, if any. */
export function trustDomainOfCa(certPem: string): string | undefined {
  for (const uri of urisFromSubjectAltName(new NodeX509(certPem).subjectAltName)) {
    if (uri.startsWith('spiffe://') && isValidTrustDomain(uri.slice(9))) return uri.slice(9);
  }
  return undefined;
}

interface Signer {
  cert: x509.X509Certificate;
  privateKey: CryptoKey;
  params: SigningParams;
  /** PEM of the signer's certificate followed by its own chain up to the root. */
  chainPem: string;
  trustDomain?: string;
  authorityKeyId: string;
}

// Importing a key is cheap but not free; tests issue many certificates from one CA object.
const signers = new WeakMap<CertAndKey, Promise<Signer>>();

function loadSigner(ca: CertAndKey): Promise<Signer> {
  let s = signers.get(ca);
  if (!s) {
    s = buildSigner(ca);
    signers.set(ca, s);
    s.catch(() => signers.delete(ca));
  }
  return s;
}

async function buildSigner(ca: CertAndKey): Promise<Signer> {
  let node: NodeX509;
  try {
    node = new NodeX509(ca.certPem);
  } catch {
    throw new Error('the CA certificate is not a readable PEM certificate');
  }
  if (!node.ca) throw new Error('the CA certificate is not a CA (basicConstraints CA:FALSE)');
  const imported = await importPrivateKeyPem(ca.keyPem);
  // A key that does not belong to the certificate would sign certificates nobody can verify.
  const certSpki = node.publicKey.export({ type: 'spki', format: 'der' });
  const keySpki = createPublicKey(ca.keyPem).export({ type: 'spki', format: 'der' });
  if (!certSpki.equals(keySpki)) throw new Error('the CA key does not match the CA certificate');
  const cert = new x509.X509Certificate(node.raw);
  const ski = cert.getExtension(x509.SubjectKeyIdentifierExtension);
  const authorityKeyId = ski ? ski.keyId : (await x509.SubjectKeyIdentifierExtension.create(imported.publicKey, false, wcrypto)).keyId;
  const own = cert.toString('pem') + '\n';
  let chainPem = own;
  if (ca.chainPem) {
    let chain;
    try {
      chain = parseCertificateBundle(ca.chainPem);
    } catch (e) {
      throw new Error(`the CA chain is not usable: ${(e as Error).message}`);
    }
    // Normalized PEM either way; the CA's own certificate goes first exactly once.
    const rest = chain.parsed[0].raw.equals(node.raw) ? chain.certificates.slice(1) : chain.certificates;
    chainPem = own + rest.join('');
  }
  return { cert, privateKey: imported.privateKey, params: imported.params, chainPem, trustDomain: trustDomainOfCa(ca.certPem), authorityKeyId };
}

async function sign(
  signer: Signer,
  keys: webcrypto.CryptoKeyPair,
  opts: ValidityOptions,
  defaultTtl: number,
  subject: x509.JsonName,
  extensions: x509.Extension[],
): Promise<IssuedCert> {
  const { notBefore, notAfter } = validity(opts, defaultTtl);
  if (notAfter > signer.cert.notAfter) throw new Error(`the certificate would outlive its CA (CA expires ${signer.cert.notAfter.toISOString()})`);
  const serialNumber = newSerial();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber,
    subject,
    issuer: signer.cert.subjectName,
    notBefore,
    notAfter,
    publicKey: keys.publicKey,
    signingKey: signer.privateKey,
    signingAlgorithm: signAlg(signer.params),
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, wcrypto),
      new x509.AuthorityKeyIdentifierExtension(signer.authorityKeyId, false),
    ],
  }, wcrypto);
  const certPem = cert.toString('pem') + '\n';
  return { certPem, keyPem: await privateKeyToPem(keys.privateKey), chainPem: certPem + signer.chainPem, notBefore, notAfter, serialNumber };
}

function leafExtensions(alg: KeyAlgorithm, usages: string[]): x509.Extension[] {
  // keyEncipherment only makes sense for RSA key transport.
  const ku = alg.startsWith('rsa') ? x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment : x509.KeyUsageFlags.digitalSignature;
  return [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(ku, true),
    new x509.ExtendedKeyUsageExtension(usages, false),
  ];
}

function signAlg(p: SigningParams): webcrypto.Algorithm {
  // ECDSA needs the hash in the signing algorithm; RSA takes it from the key.
  if (p.sign.name === 'ECDSA') return p.sign;
  const rsa: webcrypto.RsaHashedImportParams = { name: p.sign.name, hash: (p.key as webcrypto.RsaHashedImportParams).hash };
  return rsa;
}

function validity(opts: ValidityOptions, defaultTtl: number): { notBefore: Date; notAfter: Date } {
  const now = Date.now();
  if (opts.expired) return { notBefore: new Date(now - 2 * DAY), notAfter: new Date(now - DAY) };
  const notBefore = opts.notBefore ?? new Date(now - BACKDATE_MS);
  const notAfter = opts.notAfter ?? new Date(notBefore.getTime() + BACKDATE_MS + (opts.ttlMs ?? defaultTtl));
  if (!(notAfter > notBefore)) throw new Error('notAfter must be later than notBefore');
  return { notBefore, notAfter };
}

/** 128 random bits, positive (RFC 5280: serials are positive, at most 20 octets). */
function newSerial(): string {
  const b = randomBytes(16);
  b[0] = (b[0] & 0x7f) | 0x01;
  return b.toString('hex');
}

const HOSTNAME = /^(\*\.)?([a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;

function checkHostname(h: string): void {
  if (h.length > 253 || !HOSTNAME.test(h)) throw new Error(`invalid hostname ${JSON.stringify(h)}`);
}

function checkIp(ip: string): string {
  // node:net knows every textual IPv4/IPv6 form; @peculiar/x509 would encode garbage silently.
  if (!isIP(ip)) throw new Error(`invalid IP address ${JSON.stringify(ip)}`);
  return ip;
}
