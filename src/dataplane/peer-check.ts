// The client certificate checks OpenSSL does not make, run once per
// connection when the handshake is done (ClientTrafficPolicy
// tls.clientValidation): subjectAltNames, then spkiHashes / certificateHashes
// (one of either list), the leaf-only CRL, and a presented certificate that
// failed verification in optional mode. Envoy refuses these in the handshake;
// here the connection is closed before any request is read. Compiled once
// per snapshot.
import { createHash, verify, type X509Certificate } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { IRClientValidation, IRLeafCrl, IRSanMatchers, IRStringMatch } from '../ir/types.ts';
import { compileStringMatcher, type StringPattern } from '../authz/string-match.ts';
import { compileRegex } from '../match/regex.ts';
import { crlSignature, issuerOfCertificate, issuerOfCrl, subjectAltNames } from './cert-der.ts';
import { serialKey } from '../ca/serial.ts';

/** True when the verified certificate `cert` may stay connected. */
export type PeerCheck = (cert: X509Certificate) => boolean;

export interface CompiledPeerCheck {
  /** Checks of a verified certificate; absent: none. */
  verified?: PeerCheck;
  /** A presented certificate that did not verify closes the connection. */
  refuseUnverified: boolean;
}

type Predicate = (s: string) => boolean;

const KIND: Record<Exclude<IRStringMatch['type'], 'RegularExpression'>, StringPattern['kind']> = { Exact: 'exact', Prefix: 'prefix', Suffix: 'suffix' };

function matcherOf(list: readonly IRStringMatch[]): Predicate {
  const plain = compileStringMatcher(list.filter((m) => m.type !== 'RegularExpression').map((m) => ({ kind: KIND[m.type as keyof typeof KIND], value: m.value }) as StringPattern));
  const regexes = list.filter((m) => m.type === 'RegularExpression').map((m) => compileRegex(m.value));
  return (s) => plain(s) || regexes.some((r) => r.matches(s));
}

/** Envoy's DNS SAN match: an exact matcher also matches a certificate's "*.example.com" for one label. */
function dnsMatcher(list: readonly IRStringMatch[]): Predicate {
  const m = matcherOf(list);
  const exact = list.filter((x) => x.type === 'Exact').map((x) => x.value.toLowerCase());
  return (san) => {
    if (m(san)) return true;
    if (!san.startsWith('*.')) return false;
    const suffix = san.slice(1).toLowerCase();
    return exact.some((e) => e.endsWith(suffix) && e.length > suffix.length && !e.slice(0, e.length - suffix.length).includes('.'));
  };
}

function sanCheck(m: IRSanMatchers): PeerCheck {
  const dns = dnsMatcher(m.dnsNames);
  const email = matcherOf(m.emailAddresses);
  const ip = matcherOf(m.ipAddresses);
  const uri = matcherOf(m.uris);
  const other = m.otherNames.map((o) => ({ oid: o.oid, match: matcherOf([o]) }));
  return (cert) => {
    let s;
    try {
      s = subjectAltNames(cert.raw);
    } catch {
      return false;
    }
    return s.dns.some(dns) || s.email.some(email) || s.ip.some(ip) || s.uri.some(uri) ||
      s.other.some((n) => other.some((o) => o.oid === n.oid && o.match(n.value)));
  };
}

function hashCheck(spki: readonly string[], certs: readonly string[]): PeerCheck {
  const spkiSet = new Set(spki);
  const certSet = new Set(certs);
  return (cert) => certSet.has(cert.fingerprint256) ||
    (spkiSet.size > 0 && spkiSet.has(createHash('sha256').update(cert.publicKey.export({ type: 'spki', format: 'der' })).digest('base64')));
}

/** Signature algorithms a CRL may be signed with, by OID: the digest node:crypto verifies with. */
const CRL_DIGEST: Record<string, string> = {
  '1.2.840.10045.4.3.2': 'sha256', '1.2.840.10045.4.3.3': 'sha384', '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.113549.1.1.11': 'sha256', '1.2.840.113549.1.1.12': 'sha384', '1.2.840.113549.1.1.13': 'sha512',
};

interface LeafCrl {
  serials: Set<string>;
  thisUpdateMs: number;
  nextUpdateMs?: number;
  signed: ReturnType<typeof crlSignature>;
  /** fingerprint256 of the issuer certificates whose key verified this CRL's signature. */
  signedBy: Set<string>;
}

/** Whether `issuer` (the leaf's verified issuer) signed the CRL; checked once per issuer certificate. */
function signedBy(crl: LeafCrl, issuer: X509Certificate | undefined): boolean {
  if (!issuer) return false;
  const fp = issuer.fingerprint256;
  if (crl.signedBy.has(fp)) return true;
  const digest = CRL_DIGEST[crl.signed.algorithm];
  let ok = false;
  try {
    ok = digest !== undefined && verify(digest, crl.signed.tbs, issuer.publicKey, crl.signed.signature);
  } catch {
    ok = false;
  }
  if (ok) crl.signedBy.add(fp);
  return ok;
}

/**
 * The leaf in its issuer's CRL: revoked, no CRL for its issuer, a CRL out of
 * its validity or not signed by the leaf's issuer, all refuse (as OpenSSL's
 * leaf check would).
 */
function leafCrlCheck(crls: readonly IRLeafCrl[]): PeerCheck {
  const byIssuer = new Map<string, LeafCrl[]>();
  for (const c of crls) {
    const der = Buffer.from(c.pem.replace(/-----[A-Z0-9 ]+-----|\s/g, ''), 'base64');
    let issuer;
    let signed;
    try {
      // The Name's bytes as the CRL carries them: RFC 5280 has them equal to the leaf's issuer field.
      issuer = issuerOfCrl(der);
      signed = crlSignature(der);
    } catch {
      // Translate read it; a CRL this reader cannot is left out, so its leaves have no CRL and are refused.
      continue;
    }
    let list = byIssuer.get(issuer);
    if (!list) byIssuer.set(issuer, (list = []));
    list.push({ serials: new Set(c.serials), thisUpdateMs: c.thisUpdateMs, nextUpdateMs: c.nextUpdateMs, signed, signedBy: new Set() });
  }
  return (cert) => {
    let issuer;
    try {
      issuer = issuerOfCertificate(cert.raw);
    } catch {
      return false;
    }
    const list = byIssuer.get(issuer);
    if (!list) return false;
    const now = Date.now();
    const serial = serialKey(cert.serialNumber);
    return list.every((c) => c.thisUpdateMs <= now && (c.nextUpdateMs === undefined || now <= c.nextUpdateMs) && !c.serials.has(serial) && signedBy(c, cert.issuerCertificate));
  };
}

export function compilePeerCheck(cv: IRClientValidation | undefined): CompiledPeerCheck | undefined {
  if (!cv) return undefined;
  const checks: PeerCheck[] = [];
  if (cv.subjectAltNames) checks.push(sanCheck(cv.subjectAltNames));
  if (cv.spkiHashes?.length || cv.certificateHashes?.length) checks.push(hashCheck(cv.spkiHashes ?? [], cv.certificateHashes ?? []));
  if (cv.crlLeafOnly) checks.push(leafCrlCheck(cv.crlLeafOnly));
  const refuseUnverified = cv.refuseUnverified === true;
  if (checks.length === 0 && !refuseUnverified) return undefined;
  return { verified: checks.length === 0 ? undefined : (cert) => checks.every((c) => c(cert)), refuseUnverified };
}

/**
 * On a finished handshake: close the connection when its client certificate
 * fails a check. No certificate (optional) passes; an unverified one passes
 * only without refuseUnverified (in REQUIRE mode OpenSSL already refused it).
 */
export function checkPeer(check: CompiledPeerCheck | undefined, socket: TLSSocket): void {
  if (!check) return;
  const cert = socket.getPeerX509Certificate();
  if (!cert) return;
  if (!socket.authorized) {
    if (check.refuseUnverified) socket.destroy();
    return;
  }
  if (check.verified && !check.verified(cert)) socket.destroy();
}
