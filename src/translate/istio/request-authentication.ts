// Istio RequestAuthentication (security.istio.io/v1) → one filter per hop.
// The glue in translate decides which policies select a hop (root namespace,
// selector, targetRefs); this builder merges their jwtRules into the config of
// the 'istio.requestAuthentication' filter. The specs were validated (and are
// typed) by src/resources/kinds/istio-authentication.ts, the one place their
// rules live; nothing here needs another object, so nothing here can fail.
import type { IRFilter } from '../../ir/types.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { resourceKey } from '../../resources/types.ts';
import type { JwtRule, RequestAuthenticationSpec } from '../../resources/kinds/istio-authentication.ts';
import { parseGoDuration } from '../../resources/kinds/check-helpers.ts';
import { compareByAge } from '../attachment/precedence.ts';
import { DEFAULT_LOCATIONS } from '../../auth/jwt/extract.ts';
import type { JwksConfig } from '../../ir/jwt.ts';
import { ISTIO_REQUEST_AUTHENTICATION, type IstioJwtRule, type IstioRequestAuthenticationConfig } from '../../ir/istio.ts';

export const REQUEST_AUTHENTICATION_FILTER = ISTIO_REQUEST_AUTHENTICATION;

/** Istio's JWKS fetch timeout when `timeout` is unset. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;
/** Istio configures Envoy's remote JWKS cache for 5 minutes. */
export const JWKS_CACHE_DURATION_MS = 300_000;
/** Istio always splits these claims (plus the rule's spaceDelimitedClaims). */
export const DEFAULT_SPACE_DELIMITED_CLAIMS = ['permission', 'scope'] as const;

/** Locale-independent order (Go sorts strings by bytes). */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** One validated jwtRule → its IR form, with Istio's and Envoy's defaults written out. */
function normalizeRule(raw: JwtRule, origin: string, ruleIndex: number): IstioJwtRule {
  const issuer = raw.issuer === '' ? undefined : raw.issuer;
  const jwksUri = raw.jwksUri ?? raw.jwks_uri;
  const timeoutMs = raw.timeout === undefined ? DEFAULT_JWKS_TIMEOUT_MS : Math.max(1, Math.round(parseGoDuration(raw.timeout) ?? DEFAULT_JWKS_TIMEOUT_MS));
  let jwks: JwksConfig;
  if (raw.jwks !== undefined) jwks = { type: 'inline', jwks: raw.jwks };
  else if (jwksUri !== undefined) jwks = { type: 'remote', uri: jwksUri, timeoutMs, cacheDurationMs: JWKS_CACHE_DURATION_MS };
  // Validation guarantees an issuer when there is no key source: OpenID discovery.
  else jwks = { type: 'discovery', issuer: issuer ?? '', timeoutMs, cacheDurationMs: JWKS_CACHE_DURATION_MS };

  const fromHeaders = (raw.fromHeaders ?? []).map((h) => ({ name: h.name.toLowerCase(), prefix: h.prefix ?? '' }));
  const fromParams = raw.fromParams ?? [];
  const fromCookies = raw.fromCookies ?? [];
  // Envoy's default locations, written out so the IR shows where tokens are looked for.
  const noLocation = fromHeaders.length === 0 && fromParams.length === 0 && fromCookies.length === 0;
  const rule: IstioJwtRule = {
    origin,
    ruleIndex,
    audiences: raw.audiences ?? [],
    jwks,
    fromHeaders: noLocation ? DEFAULT_LOCATIONS.fromHeaders.map((h) => ({ ...h })) : fromHeaders,
    fromParams: noLocation ? [...DEFAULT_LOCATIONS.fromParams] : fromParams,
    fromCookies,
    forwardOriginalToken: raw.forwardOriginalToken ?? false,
    outputClaimToHeaders: (raw.outputClaimToHeaders ?? []).map((o) => ({ header: o.header.toLowerCase(), claim: o.claim })),
    spaceDelimitedClaims: [...new Set([...DEFAULT_SPACE_DELIMITED_CLAIMS, ...(raw.spaceDelimitedClaims ?? [])])].sort(byteOrder),
  };
  if (issuer !== undefined) rule.issuer = issuer;
  if (raw.outputPayloadToHeader !== undefined && raw.outputPayloadToHeader !== '') rule.outputPayloadToHeader = raw.outputPayloadToHeader.toLowerCase();
  return rule;
}

/**
 * Merge the jwtRules of the RequestAuthentication policies that apply to one
 * hop into one filter. Rules are ordered by issuer (as Istio orders its Envoy
 * providers), policies oldest first (translate/attachment's order), so the IR
 * is deterministic. No filter when no policy has a rule.
 */
export function buildRequestAuthenticationFilter(policies: readonly LoadedResource[]): IRFilter | undefined {
  const rules: IstioJwtRule[] = [];
  const origins: string[] = [];
  const sorted = policies.filter((lr) => lr.resource.kind === 'RequestAuthentication').sort(compareByAge);
  for (const lr of sorted) {
    const origin = resourceKey(lr.resource);
    const spec = (lr.resource.spec ?? {}) as RequestAuthenticationSpec;
    const mine = (spec.jwtRules ?? []).map((raw, i) => normalizeRule(raw, origin, i));
    if (mine.length > 0) {
      rules.push(...mine);
      origins.push(origin);
    }
  }
  if (rules.length === 0) return undefined;
  // Stable: rules of one issuer keep policy order.
  rules.sort((a, b) => byteOrder(a.issuer ?? '', b.issuer ?? ''));
  const config: IstioRequestAuthenticationConfig = { rules };
  return { type: REQUEST_AUTHENTICATION_FILTER, origin: origins.join(', '), config };
}
