// ClientTrafficPolicy → listener settings, on the attachment phase: the
// winning policy per Gateway listener (listener > gateway, then oldest, then
// namespace/name), applied per socket. What a spec asks for is read and
// checked in client-traffic-settings.ts; which fields are served, and the
// status naming every other one, in client-traffic-served.ts.
import type { IRListener } from '../ir/types.ts';
import { resourceKey } from '../resources/types.ts';
import { attachingPolicy, attachWinners, type AttachContext } from './attachment/index.ts';
import { Invalid, settingsOf, type ClientSettings, type ClientTrafficPolicySpec } from './client-traffic-settings.ts';
import { unservedFields } from './client-traffic-served.ts';

export function attachClientTrafficPolicies({ idx, targets: inv, status, policyErrors, errors }: AttachContext): void {
  const all = idx.list('ClientTrafficPolicy');
  if (all.length === 0) return;
  const settings = new Map<string, ClientSettings>();
  const policies = all.map((r) => {
    const spec = (r.resource.spec ?? {}) as ClientTrafficPolicySpec;
    const key = resourceKey(r.resource);
    const p = attachingPolicy(r, spec, inv);
    const unserved = unservedFields(spec);
    if (unserved.length > 0) {
      status.condition(key, { type: 'UnsupportedFields', status: 'True', reason: 'UnsupportedValue', message: `accepted but not served by this version: ${unserved.join(', ')}` });
    }
    try {
      settings.set(key, settingsOf(idx, r, spec));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      p.invalid = err.message;
      // Serving without the client validation or TLS bounds it asks for would be failing
      // open: the configuration is refused (the last good one keeps serving) instead.
      if (spec.tls) errors.push({ object: key, message: err.message, source: r.source });
      else policyErrors.push({ object: key, message: err.message, source: r.source });
    }
    return p;
  });
  const winners = attachWinners(policies, inv.listenerPoints, { kind: 'ClientTrafficPolicy', status, inventory: inv });
  // Several Gateway listeners may share one socket: settings are per socket.
  const perSocket = new Map<IRListener, { key: string; s: ClientSettings | undefined }[]>();
  for (const lp of inv.listenerPoints) {
    const w = winners.get(lp);
    const key = w ? resourceKey(w.policy.resource.resource) : '';
    let list = perSocket.get(lp.ir);
    if (!list) perSocket.set(lp.ir, (list = []));
    list.push({ key, s: w ? settings.get(key) : undefined });
  }
  for (const [l, list] of perSocket) {
    const keys = [...new Set(list.map((x) => x.key))];
    const first = list[0];
    if (keys.length > 1) {
      // Disagreeing policies on one socket: trust no proxy rather than the wrong one, validate nothing extra.
      for (const k of keys.filter((x) => x !== '')) {
        status.condition(k, { type: 'Warning', status: 'True', reason: 'Conflicted', message: `listeners on port ${l.port} have different ClientTrafficPolicies (${keys.map((x) => x || 'none').join(', ')}); none of their settings is applied there` });
      }
      continue;
    }
    const s = first.s;
    // No policy, or an invalid one (whose client validation, if any, refused the whole configuration).
    if (!s) continue;
    if (s.clientIp && 'hops' in s.clientIp) l.xffTrustedHops = s.clientIp.hops;
    else if (s.clientIp) l.clientIpDetection = s.clientIp.detection;
    Object.assign(l.connection, s.connection);
    if (s.forwardClientCert) l.connection.forwardClientCert = s.forwardClientCert;
    if (s.headers) l.clientHeaders = s.headers;
    if (s.path) Object.assign(l, s.path);
    if (s.healthCheckPath !== undefined) l.healthCheckPath = s.healthCheckPath;
    if (s.proxyProtocol) l.proxyProtocol = s.proxyProtocol;
    if (s.tcpKeepalive) l.tcpKeepalive = s.tcpKeepalive;
    l.http1Trailers = s.http1Trailers;
    l.http10 = s.http10;
    if (s.preserveHeaderCase) l.preserveHeaderCase = true;
    if (s.http10DefaultHost) {
      const host = defaultHost(l);
      if (host !== undefined) l.http10DefaultHost = host;
      else status.condition(first.key, { type: 'Warning', status: 'True', reason: 'Invalid', message: `http1.http10.useDefaultHost: the listeners on port ${l.port} have no hostname and their routes not exactly one (Envoy Gateway needs a non-wildcard one); not applied there` });
    }
    if (s.http2) {
      if (l.protocol === 'HTTPS') l.http2 = s.http2;
      else status.condition(first.key, { type: 'Warning', status: 'True', reason: 'UnsupportedValue', message: `http2 on the plaintext listener port ${l.port} has no effect (HTTP/2 is served over TLS)` });
    }
    if (l.tls) {
      l.tls.resumption = s.resumption ?? { stateless: false, stateful: false };
      if (s.tlsParams) l.tls.params = s.tlsParams;
      if (s.alpn) l.tls.alpn = s.alpn;
      if (s.fingerprints) l.tls.fingerprints = s.fingerprints;
    } else if (s.tlsParams || s.alpn || s.resumption || s.fingerprints) {
      status.condition(first.key, { type: 'Warning', status: 'True', reason: 'UnsupportedValue', message: `tls settings on the plaintext listener port ${l.port} have no effect` });
    }
    if (s.clientValidation) {
      if (l.tls) l.tls.clientValidation = s.clientValidation;
      else status.condition(first.key, { type: 'Warning', status: 'True', reason: 'UnsupportedValue', message: `tls.clientValidation on the plaintext listener port ${l.port} has no effect` });
    }
  }
}

/**
 * Envoy Gateway's default host for HTTP/1.0 without Host: the listener's
 * non-wildcard hostname, else the one non-wildcard hostname its routes have.
 */
function defaultHost(l: IRListener): string | undefined {
  for (const s of l.sections) if (s.hostname !== undefined && !s.hostname.startsWith('*')) return s.hostname;
  const names = new Set<string>();
  for (const r of l.routes) for (const h of r.hostnames) if (!h.startsWith('*')) names.add(h);
  return names.size === 1 ? [...names][0] : undefined;
}
