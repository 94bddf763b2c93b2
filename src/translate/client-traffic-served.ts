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
  tls: { clientValidation: { optional: true, caCertificateRefs: true } },
  timeout: { http: { requestReceivedTimeout: true, idleTimeout: true } },
  connection: { connectionLimit: { value: true, closeDelay: true }, bufferLimit: true },
  headers: {
    withUnderscoresAction: true,
    preserveXRequestID: true,
    requestID: true,
    earlyRequestHeaders: true,
    lateResponseHeaders: true,
    // certDetailsToAdd: Chain is named by extraUnserved.
    xForwardedClientCert: true,
  },
};

/** Why a field is not served, where the reason is Node's (not a gap of this version). */
export const WHY_NOT: Record<string, string> = {
  'connection.socketBufferLimit': "Node cannot set an accepted socket's SO_RCVBUF",
  'connection.maxAcceptPerSocketEvent': 'Node accepts connections as libuv hands them over',
  'timeout.tcp': 'no TCP listener here: TCPRoute is not served',
  'timeout.http.streamIdleTimeout': "Node's HTTP servers have no per-stream inactivity timer",
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
  if (spec.headers?.xForwardedClientCert?.certDetailsToAdd?.includes('Chain')) out.push('headers.xForwardedClientCert.certDetailsToAdd: Chain (the client certificate is forwarded without its chain)');
  return out;
}

/** The fields a policy sets that are not served, as dotted paths (with Node's reason where it is Node's). */
export function unservedFields(spec: Record<string, unknown>): string[] {
  const out: string[] = [];
  walk(spec, SERVED, '', out);
  return [...out, ...unservedValues(spec)];
}
