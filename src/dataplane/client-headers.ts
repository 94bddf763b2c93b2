// What the gateway takes out of the client's request head before routing and
// before any filter adds a header of its own, so that the client cannot
// remove, or forge, what the gateway sets:
// - headers the client names in `Connection` (hop-by-hop by the client's own
//   say): removed here, once, instead of from the upstream request after the
//   filters ran — else `Connection: x-jwt-sub` would strip the claim header
//   the gateway set, and `Connection: x-set` a RequestHeaderModifier `set`;
// - ClientTrafficPolicy headers: header names with an underscore refused or
//   dropped (withUnderscoresAction), then earlyRequestHeaders;
// - X-Forwarded-Client-Cert: per the listener's forwardClientCert mode;
// - identity headers (claim and payload headers of the route's
//   authenticators): removed right after routing, on every path (CORS
//   preflights and unauthenticated requests included), by stripIdentityHeaders.
import type { IncomingHttpHeaders } from 'node:http';
import type { IRHeaderModifier, IRListener } from '../ir/types.ts';
import type { TlsInfo } from '../core/request.ts';
import { applyForwardClientCert } from './client-cert-header.ts';
import { applyHeaderModifier } from '../filters/header-modifier.ts';

/**
 * Names a Connection header may not remove: the request's framing and
 * authority (an HTTP/1 message without them cannot be forwarded as sent).
 * The fixed hop-by-hop names are left for copyEndToEnd, which drops them.
 */
const KEPT = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'te', 'upgrade', 'trailer', 'proxy-connection']);

/** Remove what the client nominated in `Connection`, in place. */
export function removeConnectionNominated(headers: IncomingHttpHeaders): void {
  const connection = headers.connection;
  if (connection === undefined) return;
  const list = Array.isArray(connection) ? connection.join(',') : connection;
  // "close" and "keep-alive" are the common cases: nothing to remove.
  if (list.length <= 10 && (list === 'close' || list === 'keep-alive' || list === 'Keep-Alive' || list === 'Close')) return;
  for (const token of list.split(',')) {
    const name = token.trim().toLowerCase();
    if (name !== '' && name !== 'close' && !KEPT.has(name) && headers[name] !== undefined) delete headers[name];
  }
}

/** Whether a header name has an underscore (a charCode scan: no regex, no allocation). */
function hasUnderscore(name: string): boolean {
  for (let i = 0; i < name.length; i++) if (name.charCodeAt(i) === 95) return true;
  return false;
}

/**
 * ClientTrafficPolicy headers.withUnderscoresAction: false when the request
 * must be refused (RejectRequest); DropHeader removes such headers, so that
 * no filter and no upstream sees them.
 */
function underscoresAllowed(headers: IncomingHttpHeaders, action: 'RejectRequest' | 'DropHeader'): boolean {
  for (const name in headers) {
    if (!hasUnderscore(name)) continue;
    if (action === 'RejectRequest') return false;
    delete headers[name];
  }
  return true;
}

const JA3 = '%TLS_JA3_FINGERPRINT%';
const JA4 = '%TLS_JA4_FINGERPRINT%';

/**
 * earlyRequestHeaders whose values name the connection's fingerprints, with
 * them put in (only on listeners whose policy uses the operators). Without a
 * fingerprint (none asked for, not TLS, no readable ClientHello) the operator
 * is empty, and a header left with an empty value is not set (Envoy's
 * keep_empty_value default).
 */
function withFingerprints(m: IRHeaderModifier, tls: TlsInfo | undefined): IRHeaderModifier {
  const sub = (h: { name: string; value: string }) => ({ name: h.name, value: h.value.replaceAll(JA3, tls?.ja3 ?? '').replaceAll(JA4, tls?.ja4 ?? '') });
  const kept = (h: { value: string }) => h.value !== '';
  return { set: m.set.map(sub).filter(kept), add: m.add.map(sub).filter(kept), remove: m.remove };
}

/**
 * The client's request head, made safe before routing and filters (in place),
 * in Envoy's order: the codec's header-name check, early header mutation, then
 * X-Forwarded-Client-Cert. False: refused (a header name with an underscore).
 */
export function sanitizeClientHeaders(headers: IncomingHttpHeaders, listener: IRListener, tls: TlsInfo | undefined): boolean {
  removeConnectionNominated(headers);
  const ch = listener.clientHeaders;
  if (ch !== undefined) {
    if (ch.withUnderscores !== undefined && !underscoresAllowed(headers, ch.withUnderscores)) return false;
    if (ch.early !== undefined) applyHeaderModifier(ch.earlyFingerprints ? withFingerprints(ch.early, tls) : ch.early, headers);
  }
  applyForwardClientCert(headers, listener.connection.forwardClientCert, tls);
  return true;
}

/** Remove the route's identity headers (compiled once per snapshot), in place. */
export function stripIdentityHeaders(headers: IncomingHttpHeaders, names: readonly string[]): void {
  for (let i = 0; i < names.length; i++) if (headers[names[i]] !== undefined) delete headers[names[i]];
}
