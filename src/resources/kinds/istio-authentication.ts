// RequestAuthentication and PeerAuthentication (security.istio.io/v1,
// v1beta1): CRD schemas plus istiod's ValidateRequestAuthentication /
// ValidatePeerAuthentication rules.
import { type Static, obj, arr, map, str, oneOfValues, resourceSchema, BOOLEAN, STRING } from './common.ts';
import { WORKLOAD_SELECTOR, POLICY_TARGET_REFERENCE, TARGET_REFS, checkPolicyScope, checkWorkloadSelector } from './istio-common.ts';
import { list, has, entries, parseGoDuration, checkUniqueBy } from './check-helpers.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

const JWKS_URI = str({ minLength: 1, maxLength: 2048 });
/** RFC 9110 token: what a header or cookie name may be. */
const TOKEN_NAME = str({ minLength: 1, pattern: "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$", description: 'a header or cookie name (letters, digits and !#$%&\'*+.^_`|~-)' });
/** Istio's ValidateStrictHTTPHeaderName, for headers it writes. */
const STRICT_HEADER_NAME = str({ minLength: 1, pattern: '^[-_A-Za-z0-9]+$', maxLength: 256, description: 'a header name of letters, digits, "-" and "_"' });

const JWT_RULE = obj({
  issuer: STRING,
  audiences: arr(STRING),
  jwksUri: JWKS_URI,
  // The CRD also accepts the proto field name (kubebuilder:altName=jwks_uri).
  jwks_uri: JWKS_URI,
  jwks: STRING,
  fromHeaders: arr(obj({ name: TOKEN_NAME, prefix: STRING }, ['name'])),
  fromParams: arr(STRING),
  fromCookies: arr(TOKEN_NAME),
  outputPayloadToHeader: STRICT_HEADER_NAME,
  forwardOriginalToken: BOOLEAN,
  outputClaimToHeaders: arr(
    obj(
      {
        header: STRICT_HEADER_NAME,
        claim: str({ minLength: 1 }),
      },
      ['header', 'claim'],
    ),
  ),
  timeout: str({ maxLength: 64 }),
  // Istio ≥ 1.28: claims split on spaces, besides "scope" and "permission".
  spaceDelimitedClaims: arr(str({ minLength: 1 })),
});

export type JwtRule = Static<typeof JWT_RULE>;

const REQUEST_AUTHENTICATION_SPEC = obj({
  selector: WORKLOAD_SELECTOR,
  targetRef: POLICY_TARGET_REFERENCE,
  targetRefs: TARGET_REFS,
  jwtRules: arr(JWT_RULE, { maxItems: 4096 }),
});

/** A RequestAuthentication spec that passed validation. */
export type RequestAuthenticationSpec = Static<typeof REQUEST_AUTHENTICATION_SPEC>;

export const requestAuthenticationSchema = resourceSchema({ fields: { spec: REQUEST_AUTHENTICATION_SPEC } });

const MTLS = obj({ mode: oneOfValues(['UNSET', 'DISABLE', 'PERMISSIVE', 'STRICT']) });

const PEER_AUTHENTICATION_SPEC = obj({
  selector: WORKLOAD_SELECTOR,
  mtls: MTLS,
  portLevelMtls: map(MTLS, str({ pattern: '^[0-9]{1,5}$', description: 'a port number' }), { minProperties: 1 }),
});

/** A PeerAuthentication spec that passed validation. */
export type PeerAuthenticationSpec = Static<typeof PEER_AUTHENTICATION_SPEC>;

export const peerAuthenticationSchema = resourceSchema({ fields: { spec: PEER_AUTHENTICATION_SPEC } });

// --- semantic checks ---

function checkNonEmpty(values: unknown[], at: FieldPath, what: string, out: ValidationIssue[]): void {
  values.forEach((v, i) => {
    if (v === '') out.push({ path: [...at, i], message: `${what} must be a non-empty string` });
  });
}

/** A JWKS document: a JSON object with a `keys` list, or a single JWK (what jwk.Parse accepts). */
function jwksError(text: string): string | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'must be a JSON Web Key Set (JSON)';
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return 'must be a JSON Web Key Set (a JSON object)';
  const o = parsed as Record<string, unknown>;
  if (Array.isArray(o.keys)) {
    return o.keys.every((k) => k !== null && typeof k === 'object' && typeof (k as Record<string, unknown>).kty === 'string')
      ? undefined
      : 'every key in the JSON Web Key Set must be an object with "kty"';
  }
  return typeof o.kty === 'string' ? undefined : 'must be a JSON Web Key Set: an object with "keys", or a single key with "kty"';
}

function checkJwtRule(rule: JwtRule, at: FieldPath, out: ValidationIssue[]): void {
  checkNonEmpty(list(rule.audiences), [...at, 'audiences'], 'audience', out);
  const uriField = has(rule, 'jwksUri') ? 'jwksUri' : 'jwks_uri';
  const uri: string = rule[uriField] ?? '';
  if (!rule.issuer && !uri) out.push({ path: at, message: 'missing required field "issuer" (issuer or jwksUri must be set)' });
  const keySources = ['jwksUri', 'jwks_uri', 'jwks'].filter((k) => has(rule, k));
  if (keySources.length > 1) out.push({ path: at, message: `only one of jwks or jwksUri can be set (got ${keySources.join(' and ')})` });
  if (uri) {
    let scheme = '';
    try {
      scheme = new URL(uri).protocol;
    } catch {
      scheme = '';
    }
    if (scheme !== 'http:' && scheme !== 'https:') out.push({ path: [...at, uriField], message: 'must be a URL with scheme http:// or https://' });
  }
  if (rule.jwks !== undefined) {
    const err = jwksError(rule.jwks);
    // A well-formed set whose keys Portcullis cannot use (RSA below 2048 bits...) is accepted, as
    // Istio accepts it; every token it should verify is refused (the filter has no key for it).
    if (err) out.push({ path: [...at, 'jwks'], message: err });
  }
  checkNonEmpty(list(rule.fromParams), [...at, 'fromParams'], 'query parameter name', out);
  checkUniqueBy(list(rule.outputClaimToHeaders), (c) => String(c.header).toLowerCase(), [...at, 'outputClaimToHeaders'], 'header',
    (h, j) => `duplicate header "${h}" (also outputClaimToHeaders[${j}]); each header must be unique`, out);
  if (rule.timeout !== undefined) {
    // Istio's rule (a duration of at least 1 ms), the only one: translate reads the value as validated here.
    const ms = parseGoDuration(rule.timeout);
    if (ms === undefined) out.push({ path: [...at, 'timeout'], message: `must be a duration such as "5s" or "500ms" (got "${rule.timeout}")` });
    else if (ms < 1) out.push({ path: [...at, 'timeout'], message: 'must be a valid duration greater than 1ms' });
  }
}

export function checkRequestAuthentication(ra: any, out: ValidationIssue[]): void {
  const spec = ra.spec ?? {};
  checkPolicyScope(spec, out);
  list(spec.jwtRules).forEach((r, i) => checkJwtRule(r, ['spec', 'jwtRules', i], out));
}

export function checkPeerAuthentication(pa: any, out: ValidationIssue[]): void {
  const spec = pa.spec ?? {};
  checkWorkloadSelector(spec.selector, out);
  const ports = entries(spec.portLevelMtls);
  if (ports.length > 0 && entries(spec.selector?.matchLabels).length === 0) {
    out.push({ path: ['spec', 'portLevelMtls'], message: 'portLevelMtls requires selector (a namespace- or mesh-wide policy cannot have port level mTLS)' });
  }
  for (const [port] of ports) {
    const n = Number(port);
    if (!(n >= 1 && n <= 65535)) out.push({ path: ['spec', 'portLevelMtls', port], message: 'port must be between 1-65535' });
  }
}
