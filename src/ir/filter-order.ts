// The fixed filter chain order (DESIGN.md "Filter chain order"). translate/
// sorts every route's filters by this table, so the order never depends on
// the order in which policies were found.
export const FILTER_ORDER: readonly string[] = [
  // A policy that failed to translate makes its routes answer 500 rather than run unprotected.
  'failClosed',
  // Envoy's fault filter comes first in Envoy Gateway's chain (chaos testing sees every request).
  'faultInjection',
  // 2. CORS (preflight answered before any authentication)
  'cors',
  // 3. access control
  'ipAccess',
  'botDetection',
  // 4. authentication (Envoy Gateway's own order within its policies)
  'mtlsPeer',
  'istio.requestAuthentication',
  'extAuth',
  'apiKeyAuth',
  'basicAuth',
  'oidc',
  'jwt',
  'oauth2Introspection',
  // 5. authorization
  'istio.authorization',
  'authorization',
  'opa',
  // 6. traffic
  'localRateLimit',
  'globalRateLimit',
  'throttle',
  // 7. mutation
  'claimToHeaders',
  'requestHeaderModifier',
  'responseHeaderModifier',
];

const RANK = new Map(FILTER_ORDER.map((t, i) => [t, i]));

export function filterRank(type: string): number {
  const r = RANK.get(type);
  if (r === undefined) throw new Error(`filter type ${type} has no place in FILTER_ORDER`);
  return r;
}

export function sortFilters<T extends { type: string }>(filters: T[]): T[] {
  return filters
    .map((f, i) => ({ f, i }))
    .sort((a, b) => filterRank(a.f.type) - filterRank(b.f.type) || a.i - b.i)
    .map((x) => x.f);
}
