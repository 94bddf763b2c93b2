// `portcullis explain --peer-cert`: what the TLS handshake would make of a client
// certificate, without a handshake — verified against the listener's trust bundle
// (through the intermediates the file carries), and the SPIFFE identity it gives.
import { X509Certificate } from 'node:crypto';
import { UsageError } from './args.ts';
import type { TlsInfo } from '../core/request.ts';
import type { IRClientValidation } from '../ir/types.ts';
import { compilePeerCheck } from '../dataplane/peer-check.ts';
import { peerIdentityFromUris, urisFromSubjectAltName } from '../auth/spiffe.ts';

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function certificates(pem: string): X509Certificate[] {
  return (pem.match(PEM_CERT) ?? []).map((p) => new X509Certificate(p));
}

function currentlyValid(c: X509Certificate, now: number): boolean {
  return Date.parse(c.validFrom) <= now && now <= Date.parse(c.validTo);
}

/**
 * What the handshake would decide: the leaf (first certificate of the file)
 * chains to a certificate of the trust bundle, through the intermediates the
 * file carries after it, every link issued, signed and valid now.
 */
function chainVerifies(chain: X509Certificate[], bundle: X509Certificate[]): boolean {
  const now = Date.now();
  let current = chain[0];
  const rest = chain.slice(1);
  for (let depth = 0; depth <= rest.length; depth++) {
    if (!currentlyValid(current, now)) return false;
    for (const ca of bundle) {
      if (current.checkIssued(ca) && current.verify(ca.publicKey) && currentlyValid(ca, now)) return true;
    }
    const next = rest.find((c) => c.ca && current.checkIssued(c) && current.verify(c.publicKey));
    if (!next) return false;
    current = next;
  }
  return false;
}

export function tlsFor(peerPem: string | undefined, caPem: string | undefined, sni: string): TlsInfo {
  const info: TlsInfo = { sni, peerVerified: false, peerUris: [] };
  if (!peerPem) return info;
  let chain: X509Certificate[];
  try {
    chain = certificates(peerPem);
  } catch {
    throw new UsageError('--peer-cert: the file holds a certificate that does not parse');
  }
  if (chain.length === 0) throw new UsageError('--peer-cert: no PEM certificate in the file');
  const verified = caPem !== undefined && chainVerifies(chain, certificates(caPem));
  info.peerVerified = verified;
  if (verified) {
    info.peerCertDer = chain[0].raw;
    info.peerUris = urisFromSubjectAltName(chain[0].subjectAltName);
    info.peerIdentity = peerIdentityFromUris(info.peerUris);
  }
  return info;
}

/**
 * Why the listener closes the connection once the handshake is done
 * (dataplane/peer-check.ts), or undefined. CRLs are not looked at here: the
 * chain's revocation is OpenSSL's, on the live connection.
 */
export function peerRefusal(cv: IRClientValidation | undefined, tls: TlsInfo, presented: boolean): string | undefined {
  if (!cv || !presented) return undefined;
  if (!tls.peerVerified) return cv.refuseUnverified ? 'optional client validation refuses a certificate that does not verify' : undefined;
  const check = compilePeerCheck({ ...cv, crlLeafOnly: undefined })?.verified;
  if (check && tls.peerCertDer && !check(new X509Certificate(tls.peerCertDer))) return 'the client certificate matches no subjectAltNames matcher or no spkiHashes/certificateHashes entry';
  return undefined;
}
