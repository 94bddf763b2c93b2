// X-Forwarded-Client-Cert, as Envoy's forward_client_cert_details handles it
// (Envoy Gateway's ClientTrafficPolicy headers.xForwardedClientCert):
// - SANITIZE (the default): the header never reaches the upstream, so a client
//   cannot claim a certificate it did not present;
// - FORWARD_ONLY: the client's header is kept when the connection is mTLS
//   (a verified client certificate), else removed;
// - APPEND_FORWARD: on mTLS, this hop's element is appended; else removed;
// - SANITIZE_SET: on mTLS, replaced by this hop's element; else removed;
// - ALWAYS_FORWARD_ONLY: kept as sent, whatever the connection.
// It runs on the client's headers before routing and every filter, so
// authorization and ext_authz see what the upstream will see.
import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { IRForwardClientCert } from '../ir/types.ts';
import type { TlsInfo } from '../core/request.ts';

export const XFCC = 'x-forwarded-client-cert';

/** This hop's element per verified certificate (the DER buffer is cached per connection) and setting. */
const elements = new WeakMap<Buffer, { fcc: IRForwardClientCert; element: string }>();

function pemOf(der: Buffer): string {
  const b64 = der.toString('base64');
  const lines: string[] = [];
  for (let i = 0; i < b64.length; i += 64) lines.push(b64.slice(i, i + 64));
  return `-----BEGIN CERTIFICATE-----\n${lines.join('\n')}\n-----END CERTIFICATE-----\n`;
}

/** A quoted XFCC value: '"' and '\' escaped. */
function quoted(v: string): string {
  return `"${v.replace(/["\\]/g, '\\$&')}"`;
}

/** "CN=a,O=b": RFC 2253 order (most specific first), as Envoy prints the subject. */
function subjectOf(cert: X509Certificate): string {
  return cert.subject.split('\n').filter(Boolean).reverse().join(',');
}

function sansOf(cert: X509Certificate, kind: 'URI' | 'DNS'): string[] {
  const out: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(', ')) {
    if (part.startsWith(`${kind}:`)) out.push(part.slice(kind.length + 1));
  }
  return out;
}

const chains = new WeakMap<TLSSocket, readonly Buffer[]>();

/**
 * The client's chain, leaf first, once per connection: the leaf and its
 * issuers as Node has them, without a self-signed root (Node completes the
 * chain from the trust store; Envoy's Chain is what the client sent, which
 * seldom holds the root).
 */
export function peerChainOf(socket: TLSSocket): readonly Buffer[] {
  let chain = chains.get(socket);
  if (chain === undefined) {
    const out: Buffer[] = [];
    for (let c = socket.getPeerX509Certificate(); c !== undefined && out.length < 10; c = c.issuerCertificate) {
      if (out.length > 0 && c.checkIssued(c)) break;
      out.push(c.raw);
    }
    chains.set(socket, (chain = out));
  }
  return chain;
}

/** Envoy's element: Hash, then the requested details in Envoy's order (By is left out: listener certificates carry no URI SAN). */
export function clientCertElement(der: Buffer, details: IRForwardClientCert['details'], chain?: readonly Buffer[]): string {
  const parts = [`Hash=${createHash('sha256').update(der).digest('hex')}`];
  const cert = new X509Certificate(der);
  if (details.includes('Cert')) parts.push(`Cert=${quoted(encodeURIComponent(pemOf(der)))}`);
  if (details.includes('Chain')) parts.push(`Chain=${quoted(encodeURIComponent((chain ?? [der]).map(pemOf).join('')))}`);
  if (details.includes('Subject')) parts.push(`Subject=${quoted(subjectOf(cert))}`);
  if (details.includes('URI')) for (const u of sansOf(cert, 'URI')) parts.push(`URI=${u}`);
  if (details.includes('DNS')) for (const d of sansOf(cert, 'DNS')) parts.push(`DNS=${d}`);
  return parts.join(';');
}

/** Apply the listener's mode to the client's headers (in place). */
export function applyForwardClientCert(headers: IncomingHttpHeaders, fcc: IRForwardClientCert, tls: TlsInfo | undefined): void {
  const mode = fcc.mode;
  if (mode === 'ALWAYS_FORWARD_ONLY') return;
  const der = tls?.peerVerified === true ? tls.peerCertDer : undefined;
  if (mode === 'SANITIZE' || der === undefined) {
    if (headers[XFCC] !== undefined) delete headers[XFCC];
    return;
  }
  if (mode === 'FORWARD_ONLY') return;
  let cached = elements.get(der);
  if (cached === undefined || cached.fcc !== fcc) {
    cached = { fcc, element: clientCertElement(der, fcc.details, tls?.peerChainDer) };
    elements.set(der, cached);
  }
  const element = cached.element;
  const prev = headers[XFCC];
  headers[XFCC] = mode === 'APPEND_FORWARD' && prev !== undefined && prev !== '' ? `${Array.isArray(prev) ? prev.join(',') : prev},${element}` : element;
}
