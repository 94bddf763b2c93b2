// ClientTrafficPolicy (gateway.envoyproxy.io/v1alpha1):
// api/v1alpha1/clienttrafficpolicy_types.go, tls_types.go, timeout_types.go,
// connection_types.go. It attaches to Gateways (and their listeners) only.
import { type Schema, type Static, obj, arr, str, int, oneOfValues, specResourceSchema, typed, BOOLEAN, STRING } from './common.ts';
import { GROUP, HTTP_HEADER_FILTER, KIND, NAMESPACE, OBJECT_NAME } from './gatewayapi-types.ts';
import { POLICY_TARGET_FIELDS, checkPolicyTargets } from './envoygateway-policy-targets.ts';
import { has, isIPOrCIDR, list, parseGoDuration } from './check-helpers.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

const GO_DURATION = str({ minLength: 1, maxLength: 64, description: 'a duration such as "10s", "5m" or "1h"' });
const TLS_VERSION = oneOfValues(['Auto', '1.0', '1.1', '1.2', '1.3']);
const ANY_OBJECT = typed<Record<string, unknown>>({ type: 'object' });
/** A byte count: a whole number or a Kubernetes quantity ("32Ki"). */
const QUANTITY = typed<string | number>({ type: ['string', 'integer'] });

const STRING_MATCH_TYPE = oneOfValues(['Exact', 'Prefix', 'Suffix', 'RegularExpression']);
const STRING_MATCH_VALUE = str({ minLength: 1, maxLength: 1024 });
/** Envoy Gateway's StringMatch: type Exact unless said. */
const STRING_MATCH = obj({ type: STRING_MATCH_TYPE, value: STRING_MATCH_VALUE }, ['value']);
const CA_REF = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME, namespace: NAMESPACE }, ['name']);

const CLIENT_TRAFFIC_POLICY_SPEC = obj({
  ...POLICY_TARGET_FIELDS,
  clientIPDetection: obj({
    xForwardedFor: obj({ numTrustedHops: int(0, 64), trustedCIDRs: arr(str({ minLength: 1 }), { minItems: 1 }) }),
    customHeader: obj({ name: str({ minLength: 1, maxLength: 255 }), failClosed: BOOLEAN }, ['name']),
  }),
  tls: obj({
    minVersion: TLS_VERSION,
    maxVersion: TLS_VERSION,
    ciphers: arr(str({ minLength: 1 })),
    ecdhCurves: arr(STRING),
    signatureAlgorithms: arr(STRING),
    alpnProtocols: arr(oneOfValues(['http/1.0', 'http/1.1', 'h2'])),
    clientValidation: obj({ optional: BOOLEAN, caCertificateRefs: arr(CA_REF, { maxItems: 8 }), crl: obj({ refs: arr(CA_REF, { minItems: 1, maxItems: 8 }), onlyVerifyLeafCertificate: BOOLEAN }, ['refs']),
      spkiHashes: arr(str({ minLength: 1 })),
      certificateHashes: arr(str({ minLength: 1 })),
      subjectAltNames: obj({
        dnsNames: arr(STRING_MATCH),
        emailAddresses: arr(STRING_MATCH),
        ipAddresses: arr(STRING_MATCH),
        uris: arr(STRING_MATCH),
        otherNames: arr(obj({ oid: str({ minLength: 1 }), type: STRING_MATCH_TYPE, value: STRING_MATCH_VALUE }, ['oid', 'value'])),
      }),
    }),
    session: obj({ resumption: obj({ stateless: ANY_OBJECT, stateful: ANY_OBJECT }) }),
    fingerprints: arr(oneOfValues(['JA3', 'JA4'])),
  }),
  headers: obj({
    enableEnvoyHeaders: BOOLEAN,
    disableRateLimitHeaders: BOOLEAN,
    xForwardedClientCert: obj({
      mode: oneOfValues(['Sanitize', 'ForwardOnly', 'AppendForward', 'SanitizeSet', 'AlwaysForwardOnly']),
      certDetailsToAdd: arr(oneOfValues(['Subject', 'Cert', 'Chain', 'DNS', 'URI'])),
    }),
    withUnderscoresAction: oneOfValues(['Allow', 'RejectRequest', 'DropHeader']),
    preserveXRequestID: BOOLEAN,
    requestID: oneOfValues(['PreserveOrGenerate', 'Preserve', 'Generate', 'Disable']),
    earlyRequestHeaders: HTTP_HEADER_FILTER,
    lateResponseHeaders: HTTP_HEADER_FILTER,
  }),
  timeout: obj({
    tcp: obj({ idleTimeout: GO_DURATION }),
    http: obj({ requestReceivedTimeout: GO_DURATION, idleTimeout: GO_DURATION, streamIdleTimeout: GO_DURATION }),
  }),
  connection: obj({
    connectionLimit: obj({ value: int(1, 2 ** 31 - 1), closeDelay: GO_DURATION }, ['value']),
    bufferLimit: QUANTITY,
    socketBufferLimit: QUANTITY,
    maxAcceptPerSocketEvent: int(0, 2 ** 31 - 1),
    preconnect: ANY_OBJECT,
  }),
  http1: obj({ enableTrailers: BOOLEAN, preserveHeaderCase: BOOLEAN, http10: obj({ useDefaultHost: BOOLEAN }) }),
  http2: obj({
    initialStreamWindowSize: QUANTITY,
    initialConnectionWindowSize: QUANTITY,
    maxConcurrentStreams: int(1, 2147483647),
    onInvalidMessage: oneOfValues(['TerminateConnection', 'TerminateStream']),
  }),
  http3: ANY_OBJECT,
  path: obj({ escapedSlashesAction: oneOfValues(['KeepUnchanged', 'RejectRequest', 'UnescapeAndForward', 'UnescapeAndRedirect']), disableMergeSlashes: BOOLEAN }),
  tcpKeepalive: obj({ probes: int(1, 2 ** 31 - 1), idleTime: GO_DURATION, interval: GO_DURATION }),
  enableProxyProtocol: BOOLEAN,
  proxyProtocol: obj({ optional: BOOLEAN }),
  healthCheck: obj({ path: str({ minLength: 1, maxLength: 1024 }) }, ['path']),
});

/** The spec as translate reads it, once validated. */
export type ClientTrafficPolicySpec = Static<typeof CLIENT_TRAFFIC_POLICY_SPEC>;

export const clientTrafficPolicySchema: Schema = specResourceSchema(CLIENT_TRAFFIC_POLICY_SPEC);

/** "1024", "32Ki", "1Mi", "2M": a Kubernetes quantity of bytes. Undefined when not one. */
export function quantityBytes(v: string | number): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 ? v : undefined;
  const m = /^([0-9]+)(Ki|Mi|Gi|k|M|G)?$/.exec(v);
  if (!m) return undefined;
  const unit: Record<string, number> = { '': 1, Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1000, M: 1000 ** 2, G: 1000 ** 3 };
  return Number(m[1]) * unit[m[2] ?? ''];
}

function checkDuration(v: unknown, path: FieldPath, out: ValidationIssue[]): void {
  if (typeof v === 'string' && parseGoDuration(v) === undefined) out.push({ path, message: `must be a duration such as "10s", "5m" or "1h" (got "${v}")` });
}

export function checkClientTrafficPolicy(ctp: any, out: ValidationIssue[]): void {
  const spec = ctp.spec ?? {};
  checkPolicyTargets(spec, ['Gateway'], out);
  const at: FieldPath = ['spec'];
  const xff = spec.clientIPDetection?.xForwardedFor;
  if (has(spec.clientIPDetection, 'xForwardedFor') && has(spec.clientIPDetection, 'customHeader')) {
    out.push({ path: [...at, 'clientIPDetection'], message: 'customHeader cannot be used in conjunction with xForwardedFor' });
  }
  if (has(xff, 'numTrustedHops') && has(xff, 'trustedCIDRs')) out.push({ path: [...at, 'clientIPDetection', 'xForwardedFor'], message: 'only one of numTrustedHops or trustedCIDRs may be set' });
  list(xff?.trustedCIDRs).forEach((c, i) => {
    if (!isIPOrCIDR(c) || !c.includes('/')) out.push({ path: [...at, 'clientIPDetection', 'xForwardedFor', 'trustedCIDRs', i], message: `must be a CIDR range such as "10.0.0.0/8" (got "${c}")` });
  });
  for (const [k, v] of Object.entries(spec.timeout?.http ?? {})) checkDuration(v, [...at, 'timeout', 'http', k], out);
  checkDuration(spec.timeout?.tcp?.idleTimeout, [...at, 'timeout', 'tcp', 'idleTimeout'], out);
  for (const k of ['idleTime', 'interval'] as const) checkDuration(spec.tcpKeepalive?.[k], [...at, 'tcpKeepalive', k], out);
  for (const k of ['bufferLimit', 'socketBufferLimit'] as const) {
    const v = spec.connection?.[k];
    if (v !== undefined && quantityBytes(v) === undefined) out.push({ path: [...at, 'connection', k], message: `must be a quantity of bytes such as "32Ki" or "1Mi" (got "${v}")` });
  }
  const h = spec.headers;
  if (has(h, 'preserveXRequestID') && has(h, 'requestID')) out.push({ path: [...at, 'headers'], message: 'preserveXRequestID and requestID cannot both be set.' });
  const xfcc = h?.xForwardedClientCert;
  if (list(xfcc?.certDetailsToAdd).length > 0 && xfcc.mode !== 'AppendForward' && xfcc.mode !== 'SanitizeSet') {
    out.push({ path: [...at, 'headers', 'xForwardedClientCert', 'certDetailsToAdd'], message: 'certDetailsToAdd can only be set when mode is AppendForward or SanitizeSet' });
  }
  const tls = spec.tls;
  const order = ['1.0', '1.1', '1.2', '1.3'];
  if (tls && order.includes(tls.minVersion) && order.includes(tls.maxVersion) && order.indexOf(tls.minVersion) > order.indexOf(tls.maxVersion)) {
    out.push({ path: [...at, 'tls', 'minVersion'], message: `minVersion ${tls.minVersion} is above maxVersion ${tls.maxVersion}` });
  }
  for (const [field, refs] of [['caCertificateRefs', tls?.clientValidation?.caCertificateRefs], ['crl', tls?.clientValidation?.crl?.refs]] as const) {
    list(refs).forEach((r, i) => {
      const kind = r.kind ?? 'Secret';
      const path: FieldPath = field === 'crl' ? [...at, 'tls', 'clientValidation', 'crl', 'refs', i, 'kind'] : [...at, 'tls', 'clientValidation', field, i, 'kind'];
      if (kind !== 'Secret' && kind !== 'ConfigMap') out.push({ path, message: 'must be Secret or ConfigMap' });
    });
  }
}
