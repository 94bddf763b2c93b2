// Workload identity as Istio sees it: the SPIFFE ID in a verified peer
// certificate's URI SAN, "spiffe://<trust-domain>/ns/<namespace>/sa/<service-account>".
// Istio's `source.principal` is that ID without the scheme, and `source.namespace`
// is its <namespace> segment. Parsing is strict (SPIFFE ID spec, exact Istio shape):
// anything else yields no identity, so a policy that names principals cannot match it.

export interface SpiffeId {
  trustDomain: string;
  namespace: string;
  serviceAccount: string;
}

export interface PeerIdentity {
  /** "<trust-domain>/ns/<namespace>/sa/<service-account>" (Istio's source.principal). */
  principal: string;
  /** Istio's source.namespace. */
  namespace: string;
}

/** SPIFFE spec: trust domain is lowercase letters, digits, '.', '-', '_'. */
const TRUST_DOMAIN = /^[a-z0-9._-]+$/;
/** SPIFFE spec: a path segment is letters, digits, '.', '-', '_' (and not '.' or '..'). */
const SEGMENT = /^[A-Za-z0-9._-]+$/;
/** Kubernetes: a namespace is a DNS-1123 label. */
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
/** Kubernetes: a service account name is a DNS-1123 subdomain. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const PREFIX = 'spiffe://';
const MAX_ID = 2048;
const MAX_TRUST_DOMAIN = 255;

export function isValidTrustDomain(td: string): boolean {
  return td.length > 0 && td.length <= MAX_TRUST_DOMAIN && TRUST_DOMAIN.test(td);
}

export function isValidNamespace(ns: string): boolean {
  return ns.length <= 63 && DNS1123_LABEL.test(ns);
}

export function isValidServiceAccount(sa: string): boolean {
  return sa.length <= 253 && DNS1123_SUBDOMAIN.test(sa);
}

function isSegment(s: string): boolean {
  return s !== '.' && s !== '..' && SEGMENT.test(s);
}

/** Parses exactly `spiffe://<td>/ns/<ns>/sa/<sa>`; undefined for anything else. */
export function parseSpiffeId(uri: string): SpiffeId | undefined {
  if (typeof uri !== 'string' || uri.length > MAX_ID || !uri.startsWith(PREFIX)) return undefined;
  const parts = uri.slice(PREFIX.length).split('/');
  if (parts.length !== 5 || parts[1] !== 'ns' || parts[3] !== 'sa') return undefined;
  const [trustDomain, , namespace, , serviceAccount] = parts;
  if (!isValidTrustDomain(trustDomain) || !isSegment(namespace) || !isSegment(serviceAccount)) return undefined;
  return { trustDomain, namespace, serviceAccount };
}

/** `spiffe://<td>/ns/<ns>/sa/<sa>`; throws on names the CA must not sign. */
export function formatSpiffeId(id: SpiffeId): string {
  if (!isValidTrustDomain(id.trustDomain)) throw new Error(`invalid trust domain ${JSON.stringify(id.trustDomain)}: lowercase letters, digits, '.', '-', '_'`);
  if (!isValidNamespace(id.namespace)) throw new Error(`invalid namespace ${JSON.stringify(id.namespace)}: must be a DNS-1123 label`);
  if (!isValidServiceAccount(id.serviceAccount)) throw new Error(`invalid service account ${JSON.stringify(id.serviceAccount)}: must be a DNS-1123 subdomain`);
  return `${PREFIX}${id.trustDomain}/ns/${id.namespace}/sa/${id.serviceAccount}`;
}

/**
 * The peer identity among a certificate's URI SANs. Like Istio's proxy, the first
 * `spiffe://` URI is the identity (an X.509-SVID carries exactly one); if that one is
 * not of Istio's shape there is no identity (we do not fall through to a later URI).
 */
export function peerIdentityFromUris(uris: readonly string[]): PeerIdentity | undefined {
  for (const uri of uris) {
    if (!uri.startsWith(PREFIX)) continue;
    const id = parseSpiffeId(uri);
    if (!id) return undefined;
    return { principal: uri.slice(PREFIX.length), namespace: id.namespace };
  }
  return undefined;
}

/**
 * URI SANs of a Node peer certificate (`tlsSocket.getPeerCertificate()`), whose
 * `subjectaltname` reads like `DNS:a.example, URI:spiffe://td/ns/x/sa/y`. Node quotes
 * a value as a JSON string when it contains a delimiter (`URI:"spiffe://a\u002cb"`), so
 * a comma inside a value cannot fake a second entry. A string that does not follow
 * that grammar yields no URIs at all (fail closed).
 */
export function urisFromPeerCertificate(cert: { subjectaltname?: string } | null | undefined): string[] {
  return urisFromSubjectAltName(cert?.subjectaltname);
}

export function urisFromSubjectAltName(san: string | undefined): string[] {
  if (!san) return [];
  const uris: string[] = [];
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) return [];
    const type = san.slice(i, colon);
    let value: string;
    let next: number;
    if (san.charCodeAt(colon + 1) === 0x22 /* " */) {
      const end = closingQuote(san, colon + 2);
      if (end < 0) return [];
      try {
        value = JSON.parse(san.slice(colon + 1, end + 1)) as string;
      } catch {
        return [];
      }
      next = end + 1;
    } else {
      const comma = san.indexOf(', ', colon + 1);
      next = comma < 0 ? san.length : comma;
      value = san.slice(colon + 1, next);
      // Node quotes any value holding a delimiter; an unquoted one with a comma or quote is not Node's output.
      if (value.includes(',') || value.includes('"')) return [];
    }
    if (type === 'URI') uris.push(value);
    if (next === san.length) break;
    if (san.charCodeAt(next) !== 0x2c || san.charCodeAt(next + 1) !== 0x20 || next + 2 === san.length) return [];
    i = next + 2;
  }
  return uris;
}

/** Index of the quote that closes a JSON string whose body starts at `from`, or -1. */
function closingQuote(s: string, from: number): number {
  for (let j = from; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c === 0x5c /* \ */) j++;
    else if (c === 0x22) return j;
  }
  return -1;
}

/** What a TLS connection tells about its peer, computed once per connection. */
export interface VerifiedPeer {
  /** A client certificate was presented and verified against the listener's trust bundle. */
  verified: boolean;
  /** URI SANs of the peer certificate; empty unless verified (never trust an unverified SAN). */
  uris: string[];
  /** Istio identity from the first SPIFFE URI; undefined unless verified. */
  identity: PeerIdentity | undefined;
  /** DER of the verified peer certificate. */
  der: Buffer | undefined;
}

interface TlsSocketLike {
  authorized?: boolean;
  getPeerCertificate(detailed?: boolean): { subjectaltname?: string; raw?: Buffer } | null;
}

const NO_PEER: VerifiedPeer = Object.freeze({ verified: false, uris: [], identity: undefined, der: undefined }) as VerifiedPeer;
const peerCache = new WeakMap<object, VerifiedPeer>();

/**
 * The verified peer of a TLS connection. Pass the connection's socket (HTTP/1:
 * req.socket; HTTP/2: req.stream.session.socket) so the result is cached per
 * connection, not recomputed per request. With requestCert and
 * rejectUnauthorized:false (PERMISSIVE), a certificate from another CA or an
 * expired one completes the handshake but is not `authorized`: it yields no URIs.
 */
export function verifiedPeerOf(socket: TlsSocketLike): VerifiedPeer {
  const hit = peerCache.get(socket);
  if (hit) return hit;
  let peer = NO_PEER;
  if (socket.authorized === true) {
    const cert = socket.getPeerCertificate();
    if (cert && cert.raw) {
      const uris = urisFromPeerCertificate(cert);
      peer = { verified: true, uris, identity: peerIdentityFromUris(uris), der: cert.raw };
    }
  }
  peerCache.set(socket, peer);
  return peer;
}
