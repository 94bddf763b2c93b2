// Which ClientTrafficPolicy fields this version serves. Every other field a
// policy sets is named in its status (UnsupportedFields), never ignored
// silently; a field Node cannot do says why.
//
// A tree of field names: `true` = served with everything under it; an object =
// served as far as its own entries go.
type Served = { [field: string]: true | Served };

export const SERVED: Served = {
  targetRef: true,
  targetRefs: true,
  targetSelectors: true,
  clientIPDetection: { xForwardedFor: { numTrustedHops: true, trustedCIDRs: true }, customHeader: true },
  tls: {
    clientValidation: { optional: true, caCertificateRefs: true, crl: true, spkiHashes: true, certificateHashes: true, subjectAltNames: true },
    minVersion: true,
    maxVersion: true,
    ciphers: true,
    ecdhCurves: true,
    signatureAlgorithms: true,
    alpnProtocols: true,
    session: { resumption: { stateless: true, stateful: true } },
    fingerprints: true,
  },
  timeout: { http: { requestReceivedTimeout: true, streamIdleTimeout: true, idleTimeout: true } },
  connection: { connectionLimit: { value: true, closeDelay: true }, bufferLimit: true },
  path: { disableMergeSlashes: true, escapedSlashesAction: true },
  healthCheck: { path: true },
  enableProxyProtocol: true,
  proxyProtocol: { optional: true },
  http2: { maxConcurrentStreams: true, initialStreamWindowSize: true, initialConnectionWindowSize: true },
  // HTTP/1.0 requests are always accepted (Node parses them); its other fields are named one by one.
  // enableTrailers: the request direction is named by unservedValues.
  http1: { enableTrailers: true, preserveHeaderCase: true, http10: { useDefaultHost: true } },
  tcpKeepalive: true,
  headers: {
    withUnderscoresAction: true,
    preserveXRequestID: true,
    requestID: true,
    earlyRequestHeaders: true,
    lateResponseHeaders: true,
    enableEnvoyHeaders: true,
    disableRateLimitHeaders: true,
    xForwardedClientCert: true,
  },
};

/** Why a field is not served, where the reason is Node's (not a gap of this version). */
export const WHY_NOT: Record<string, string> = {
  'connection.socketBufferLimit': "Node cannot set an accepted socket's SO_RCVBUF",
  'connection.maxAcceptPerSocketEvent': 'Node accepts connections as libuv hands them over',
  'timeout.tcp': 'no TCP listener here: TCPRoute is not served',
  'http2.onInvalidMessage': "Node's HTTP/2 server decides itself how a malformed message ends (nghttp2)",
  http3: 'Node has no HTTP/3 (QUIC) server',
};

function walk(spec: Record<string, unknown>, served: Served, prefix: string, out: string[]): void {
  for (const key of Object.keys(spec)) {
    const v = spec[key];
    if (v === undefined) continue;
    const s = served[key];
    const path = `${prefix}${key}`;
    if (s === true) continue;
    if (s !== undefined && v !== null && typeof v === 'object' && !Array.isArray(v)) walk(v as Record<string, unknown>, s, `${path}.`, out);
    else out.push(WHY_NOT[path] ? `${path} (${WHY_NOT[path]})` : path);
  }
}

/** Values of served fields that are not served themselves. */
function unservedValues(spec: Record<string, any>): string[] {
  const out: string[] = [];
  if (spec.http1?.enableTrailers === true) out.push("http1.enableTrailers: request trailers (undici, the upstream client, sends none; response trailers are relayed)");
  return out;
}

/** The fields a policy sets that are not served, as dotted paths (with Node's reason where it is Node's). */
export function unservedFields(spec: Record<string, unknown>): string[] {
  const out: string[] = [];
  walk(spec, SERVED, '', out);
  return [...out, ...unservedValues(spec)];
}
