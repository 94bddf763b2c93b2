// A ClientTrafficPolicy's spec → the listener settings it asks for, checked
// (an Invalid names the field). Applied per socket by client-traffic-policy.ts.
import { createSecureContext, DEFAULT_CIPHERS } from 'node:tls';
import type { IRClientHeaders, IRClientIpDetection, IRClientValidation, IRConnection, IRForwardClientCert, IRHeaderModifier, IRHttp2, IRListener, IRProxyProtocol, IRTcpKeepalive, IRTlsParams } from '../ir/types.ts';
import type { LoadedResource } from '../resources/types.ts';
import { quantityBytes, type ClientTrafficPolicySpec } from '../resources/kinds/envoygateway-clienttrafficpolicy.ts';
import { parseGoDuration } from '../resources/kinds/check-helpers.ts';
import type { ResourceIndex } from './index-resources.ts';
import { Invalid } from './client-traffic-invalid.ts';
import { clientValidationOf } from './client-validation.ts';

type TlsSpec = NonNullable<ClientTrafficPolicySpec['tls']>;
type HeadersSpec = NonNullable<ClientTrafficPolicySpec['headers']>;
type HeaderFilter = HeadersSpec['earlyRequestHeaders'];
type TlsVersion = NonNullable<TlsSpec['minVersion']>;
type XfccMode = NonNullable<NonNullable<HeadersSpec['xForwardedClientCert']>['mode']>;

export type { ClientTrafficPolicySpec };
export { Invalid };

/** What a policy changes on its sockets' IRConnection. */
export type ConnectionSettings = Partial<Pick<IRConnection, 'requestReceivedTimeoutMs' | 'streamIdleTimeoutMs' | 'idleTimeoutMs' | 'connectionLimit' | 'bufferLimitBytes'>>;

export interface ClientSettings {
  clientIp?: { hops: number } | { detection: IRClientIpDetection };
  clientValidation?: IRClientValidation;
  connection: ConnectionSettings;
  headers?: IRClientHeaders;
  forwardClientCert?: IRForwardClientCert;
  tlsParams?: IRTlsParams;
  alpn?: string[];
  /** tls.session.resumption; absent: none (Envoy Gateway's default on the listeners a policy covers). */
  resumption?: NonNullable<IRListener['tls']>['resumption'];
  /** tls.fingerprints, without repeats. */
  fingerprints?: NonNullable<IRListener['tls']>['fingerprints'];
  http2?: IRHttp2;
  /** path: the listener's normalization, and whether escaped slashes are answered (not forwarded). */
  path?: Pick<IRListener, 'pathNormalization' | 'escapedSlashes'>;
  healthCheckPath?: string;
  proxyProtocol?: IRProxyProtocol;
  /** http1.http10.useDefaultHost: which Host is the listener's to say (client-traffic-policy.ts). */
  http10DefaultHost?: true;
  tcpKeepalive?: IRTcpKeepalive;
  /** http1.http10 is set (HTTP/1.0 accepted). */
  http10: boolean;
  /** http1.enableTrailers === true. */
  http1Trailers: boolean;
  preserveHeaderCase?: true;
}

/** A duration field in ms; validation already refused a malformed one, so undefined here is a bug guard. */
function durationMs(v: string | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const ms = parseGoDuration(v);
  if (ms === undefined) throw new Invalid(`${field}: "${v}" is not a duration`);
  return ms;
}

function connectionSettings(spec: ClientTrafficPolicySpec): ConnectionSettings {
  const out: ConnectionSettings = {};
  const http = spec.timeout?.http;
  const received = durationMs(http?.requestReceivedTimeout, 'timeout.http.requestReceivedTimeout');
  // 0 disables the timeout, as in Envoy.
  if (received !== undefined) out.requestReceivedTimeoutMs = received;
  const streamIdle = durationMs(http?.streamIdleTimeout, 'timeout.http.streamIdleTimeout');
  if (streamIdle !== undefined) out.streamIdleTimeoutMs = streamIdle;
  const idle = durationMs(http?.idleTimeout, 'timeout.http.idleTimeout');
  if (idle !== undefined) {
    if (idle === 0) throw new Invalid('timeout.http.idleTimeout: 0 would keep idle connections for ever; give a duration');
    out.idleTimeoutMs = idle;
  }
  const limit = spec.connection?.connectionLimit;
  if (limit) out.connectionLimit = { max: limit.value, closeDelayMs: durationMs(limit.closeDelay, 'connection.connectionLimit.closeDelay') ?? 0 };
  const buffer = spec.connection?.bufferLimit;
  if (buffer !== undefined) {
    const bytes = quantityBytes(buffer);
    if (bytes === undefined || bytes === 0) throw new Invalid(`connection.bufferLimit: "${buffer}" is not a positive quantity of bytes`);
    out.bufferLimitBytes = bytes;
  }
  return out;
}

function headerModifier(f: HeaderFilter | undefined, field: string): IRHeaderModifier | undefined {
  if (f === undefined) return undefined;
  const pair = (h: { name: string; value: string }, i: number, list: string) => {
    if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(h.name)) throw new Invalid(`${field}.${list}[${i}].name: "${h.name}" is not a header name`);
    return { name: h.name.toLowerCase(), value: h.value };
  };
  return {
    set: (f.set ?? []).map((h, i) => pair(h, i, 'set')),
    add: (f.add ?? []).map((h, i) => pair(h, i, 'add')),
    remove: (f.remove ?? []).map((n, i) => {
      if (!/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(n)) throw new Invalid(`${field}.remove[${i}]: "${n}" is not a header name`);
      return n.toLowerCase();
    }),
  };
}

const XFCC_MODE: Record<XfccMode, IRForwardClientCert['mode']> = {
  Sanitize: 'SANITIZE',
  ForwardOnly: 'FORWARD_ONLY',
  AppendForward: 'APPEND_FORWARD',
  SanitizeSet: 'SANITIZE_SET',
  AlwaysForwardOnly: 'ALWAYS_FORWARD_ONLY',
};

const FINGERPRINT_OPERATOR = /%TLS_JA[34]_FINGERPRINT%/;

function headerSettings(spec: ClientTrafficPolicySpec, out: ClientSettings): void {
  const h = spec.headers;
  if (h === undefined) return;
  const ch: IRClientHeaders = {};
  if (h.withUnderscoresAction === 'RejectRequest' || h.withUnderscoresAction === 'DropHeader') ch.withUnderscores = h.withUnderscoresAction;
  if (h.requestID !== undefined) ch.requestId = h.requestID;
  // Deprecated in Envoy Gateway for requestID: true keeps the client's (generating one when absent), false is the edge default.
  else if (h.preserveXRequestID !== undefined) ch.requestId = h.preserveXRequestID ? 'PreserveOrGenerate' : 'Generate';
  const early = headerModifier(h.earlyRequestHeaders, 'headers.earlyRequestHeaders');
  if (early) ch.early = early;
  if (early && [...early.set, ...early.add].some((h) => FINGERPRINT_OPERATOR.test(h.value))) ch.earlyFingerprints = true;
  const late = headerModifier(h.lateResponseHeaders, 'headers.lateResponseHeaders');
  if (late) ch.late = late;
  if (h.enableEnvoyHeaders === true) ch.envoyHeaders = true;
  if (h.disableRateLimitHeaders === true) ch.noRateLimitHeaders = true;
  if (Object.keys(ch).length > 0) out.headers = ch;
  const x = h.xForwardedClientCert;
  if (x) {
    out.forwardClientCert = { mode: XFCC_MODE[x.mode ?? 'Sanitize'], details: x.certDetailsToAdd ?? [] };
  }
}

const NODE_VERSION: Record<Exclude<TlsVersion, 'Auto'>, NonNullable<IRTlsParams['minVersion']>> = { '1.0': 'TLSv1', '1.1': 'TLSv1.1', '1.2': 'TLSv1.2', '1.3': 'TLSv1.3' };

/** tls: versions, algorithms and ALPN, checked by OpenSSL itself (a name it does not know is Invalid, never dropped). */
function tlsSettings(spec: ClientTrafficPolicySpec, out: ClientSettings): void {
  const t = spec.tls;
  if (t === undefined) return;
  const p: IRTlsParams = {};
  if (t.minVersion !== undefined && t.minVersion !== 'Auto') p.minVersion = NODE_VERSION[t.minVersion];
  if (t.maxVersion !== undefined && t.maxVersion !== 'Auto') p.maxVersion = NODE_VERSION[t.maxVersion];
  if (t.ciphers !== undefined && t.ciphers.length > 0) p.ciphers = t.ciphers.join(':');
  // OpenSSL 3 refuses TLS 1.0/1.1 below security level 0: asking for them is asking for that.
  if (p.minVersion === 'TLSv1' || p.minVersion === 'TLSv1.1') p.ciphers = `${p.ciphers ?? DEFAULT_CIPHERS}:@SECLEVEL=0`;
  if (t.ecdhCurves !== undefined && t.ecdhCurves.length > 0) p.ecdhCurve = t.ecdhCurves.join(':');
  if (t.signatureAlgorithms !== undefined && t.signatureAlgorithms.length > 0) p.sigalgs = t.signatureAlgorithms.join(':');
  if (Object.keys(p).length > 0) {
    // One name at a time: OpenSSL takes a list with one name it knows and drops the others silently.
    const check = (field: string, opts: Parameters<typeof createSecureContext>[0]): void => {
      try {
        createSecureContext(opts);
      } catch (err) {
        throw new Invalid(`${field}: not accepted by OpenSSL ${process.versions.openssl} (${(err as Error).message.split('\n')[0]})`);
      }
    };
    (t.ciphers ?? []).forEach((c, i) => check(`tls.ciphers[${i}] "${c}"`, c.startsWith('TLS_') ? { ciphers: `${c}:${DEFAULT_CIPHERS}` } : { ciphers: c }));
    (t.ecdhCurves ?? []).forEach((c, i) => check(`tls.ecdhCurves[${i}] "${c}"`, { ecdhCurve: c }));
    (t.signatureAlgorithms ?? []).forEach((a, i) => check(`tls.signatureAlgorithms[${i}] "${a}"`, { sigalgs: a }));
    check('tls', p);
    out.tlsParams = p;
  }
  const r = t.session?.resumption;
  if (r) out.resumption = { stateless: r.stateless !== undefined, stateful: r.stateful !== undefined };
  if (t.fingerprints !== undefined && t.fingerprints.length > 0) out.fingerprints = [...new Set(t.fingerprints)];
  if (t.alpnProtocols !== undefined) {
    // http/1.0 is offered too: listener-hooks.ts hands those connections to the HTTP/1 handling.
    out.alpn = t.alpnProtocols.length > 0 ? [...t.alpnProtocols] : ['http/1.1'];
  }
}

/** A window size: Envoy Gateway's bounds (64 KiB – 2^31-1 bytes), a Kubernetes quantity. */
function windowBytes(v: string | number | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  const bytes = quantityBytes(v);
  if (bytes === undefined || bytes < 65_535 || bytes > 2 ** 31 - 1) throw new Invalid(`${field}: "${v}" must be between 64Ki and 2147483647 bytes`);
  return bytes;
}

function http2Settings(spec: ClientTrafficPolicySpec, out: ClientSettings): void {
  const h = spec.http2;
  if (h === undefined) return;
  const s: IRHttp2 = {};
  if (h.maxConcurrentStreams !== undefined) s.maxConcurrentStreams = h.maxConcurrentStreams;
  const stream = windowBytes(h.initialStreamWindowSize, 'http2.initialStreamWindowSize');
  if (stream !== undefined) s.initialStreamWindowSize = stream;
  const conn = windowBytes(h.initialConnectionWindowSize, 'http2.initialConnectionWindowSize');
  if (conn !== undefined) s.initialConnectionWindowSize = conn;
  if (Object.keys(s).length > 0) out.http2 = s;
}

/**
 * path, as Envoy Gateway sets it: RFC 3986 normalization always, adjacent
 * slashes merged unless disableMergeSlashes, escaped slashes UnescapeAndRedirect
 * unless said. (A listener no policy's path covers keeps the gateway's
 * normalization, BASE by default.)
 */
function pathSettings(spec: ClientTrafficPolicySpec): ClientSettings['path'] {
  const p = spec.path;
  if (p === undefined) return undefined;
  const merge = p.disableMergeSlashes !== true;
  const action = p.escapedSlashesAction ?? 'UnescapeAndRedirect';
  const decode = action === 'UnescapeAndForward' || action === 'UnescapeAndRedirect';
  const pathNormalization = decode ? (merge ? 'DECODE_AND_MERGE_SLASHES' : 'DECODE_SLASHES') : merge ? 'MERGE_SLASHES' : 'BASE';
  return action === 'RejectRequest' || action === 'UnescapeAndRedirect' ? { pathNormalization, escapedSlashes: action } : { pathNormalization };
}

function healthCheckPath(spec: ClientTrafficPolicySpec): string | undefined {
  const p = spec.healthCheck?.path;
  if (p === undefined) return undefined;
  // Matched against the request's path exactly (no query): anything else could never match.
  if (!/^\/[^?#\s]*$/.test(p)) throw new Invalid(`healthCheck.path: "${p}" must be a path starting with "/", without query, fragment or spaces`);
  return p;
}

/**
 * tcpKeepalive, with Linux's defaults (Envoy Gateway's documented ones) for
 * what it leaves out: Node sets all three per socket, in whole seconds.
 */
function tcpKeepalive(spec: ClientTrafficPolicySpec): IRTcpKeepalive | undefined {
  const k = spec.tcpKeepalive;
  if (k === undefined) return undefined;
  const seconds = (v: string | undefined, field: string, dflt: number): number => {
    const ms = durationMs(v, field);
    if (ms === undefined) return dflt;
    if (ms < 1000 || ms % 1000 !== 0) throw new Invalid(`${field}: "${v}" must be a whole number of seconds, at least 1s (the socket option counts seconds)`);
    return ms;
  };
  return { idleMs: seconds(k.idleTime, 'tcpKeepalive.idleTime', 7_200_000), intervalMs: seconds(k.interval, 'tcpKeepalive.interval', 75_000), probes: k.probes ?? 9 };
}

export function settingsOf(idx: ResourceIndex, policy: LoadedResource, spec: ClientTrafficPolicySpec): ClientSettings {
  const out: ClientSettings = { connection: connectionSettings(spec), http1Trailers: spec.http1?.enableTrailers === true, http10: spec.http1?.http10 !== undefined };
  const path = pathSettings(spec);
  if (path) out.path = path;
  const hc = healthCheckPath(spec);
  if (hc !== undefined) out.healthCheckPath = hc;
  // proxyProtocol wins over the deprecated enableProxyProtocol (Envoy Gateway), whose true is a required header.
  if (spec.proxyProtocol) out.proxyProtocol = { optional: spec.proxyProtocol.optional === true };
  else if (spec.enableProxyProtocol === true) out.proxyProtocol = { optional: false };
  const ka = tcpKeepalive(spec);
  if (ka) out.tcpKeepalive = ka;
  if (spec.http1?.http10?.useDefaultHost === true) out.http10DefaultHost = true;
  if (spec.http1?.preserveHeaderCase === true) out.preserveHeaderCase = true;
  headerSettings(spec, out);
  tlsSettings(spec, out);
  http2Settings(spec, out);
  const d = spec.clientIPDetection;
  if (d?.customHeader) out.clientIp = { detection: { type: 'customHeader', name: d.customHeader.name.toLowerCase(), failClosed: d.customHeader.failClosed ?? false } };
  else if (d?.xForwardedFor?.trustedCIDRs) out.clientIp = { detection: { type: 'xffTrustedCidrs', cidrs: d.xForwardedFor.trustedCIDRs } };
  else if (d?.xForwardedFor) out.clientIp = { hops: d.xForwardedFor.numTrustedHops ?? 0 };
  const cv = spec.tls?.clientValidation;
  if (cv) out.clientValidation = clientValidationOf(idx, policy, cv);
  return out;
}
