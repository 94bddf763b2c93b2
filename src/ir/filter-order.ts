// The fixed filter chain order (DESIGN.md "Filter chain order"). translate/
// sorts every route's filters by this table, so the order never depends on
// the order in which policies were found. Every IR filter type has exactly
// one slot (checked below by the compiler); the commented names are the
// slots reserved for filters not written yet — a new filter uncomments its
// line when it adds its entry to IRFilterConfigs (src/ir/filters.ts).
import type { IRFilterType } from './filters.ts';

export const FILTER_ORDER = [
  // A policy that failed to translate makes its routes answer 500 rather than run unprotected.
  'failClosed',
  // Envoy's fault filter comes first in Envoy Gateway's chain (chaos testing sees every request).
  'faultInjection',
  // 2. CORS (preflight answered before any authentication)
  'cors',
  // 3. access control
  // 'ipAccess',
  'botDetection',
  // 4. authentication (Envoy Gateway's own order within its policies)
  'mtlsPeer',
  // Envoy Gateway's SecurityPolicy authentication runs before Istio's RequestAuthentication:
  // Istio removes the token it verified (unless forwardOriginalToken), Envoy Gateway forwards it.
  'extAuth',
  // Portcullis extension: apiKeyAuth / basicAuth / jwt as alternatives (SecurityPolicy spec.portcullis).
  'anyOfAuthentication',
  'apiKeyAuth',
  'basicAuth',
  // 'oidc',
  'jwt',
  'istio.requestAuthentication',
  // 'oauth2Introspection',
  // 5. authorization
  'istio.authorization',
  'authorization',
  // 'opa',
  // 6. traffic
  'localRateLimit',
  'globalRateLimit',
  // 'throttle',
  // 7. mutation
  // 'claimToHeaders',
  'requestHeaderModifier',
  'responseHeaderModifier',
] as const satisfies readonly IRFilterType[];

/** A filter type without a slot fails to compile here, naming the type. */
type WithoutSlot = Exclude<IRFilterType, (typeof FILTER_ORDER)[number]>;
export const EVERY_FILTER_TYPE_HAS_A_SLOT: [WithoutSlot] extends [never] ? true : WithoutSlot = true;

const RANK = new Map<string, number>(FILTER_ORDER.map((t, i) => [t, i]));

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
