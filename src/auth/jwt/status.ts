// Why a token was refused. The codes and messages follow Envoy's jwt_authn
// (google/jwt_verify_lib status strings), because that is what clients of an
// Istio or Envoy Gateway proxy see today and what their tooling matches on.

export type JwtFailure =
  | 'JwtBadFormat'
  | 'JwtHeaderParseError'
  | 'JwtHeaderBadAlg'
  | 'JwtHeaderNotImplementedAlg'
  | 'JwtHeaderBadKid'
  | 'JwtPayloadParseError'
  | 'JwtSignatureParseError'
  | 'JwtUnknownIssuer'
  | 'JwtAudienceNotAllowed'
  | 'JwtNotYetValid'
  | 'JwtExpired'
  | 'JwtVerificationFail'
  | 'JwksKidAlgMismatch'
  | 'JwksNoValidKeys'
  | 'JwksFetchFail';

const MESSAGES: Record<JwtFailure, string> = {
  JwtBadFormat: 'Jwt is not in the form of Header.Payload.Signature',
  JwtHeaderParseError: 'Jwt header is an invalid Base64url input or an invalid JSON',
  JwtHeaderBadAlg: 'Jwt header [alg] field is not a string',
  JwtHeaderNotImplementedAlg: 'Jwt header [alg] field value is invalid',
  JwtHeaderBadKid: 'Jwt header [kid] field is not a string',
  JwtPayloadParseError: 'Jwt payload is an invalid Base64 or an invalid JSON',
  JwtSignatureParseError: 'Jwt signature is an invalid Base64',
  JwtUnknownIssuer: 'Jwt issuer is not configured',
  JwtAudienceNotAllowed: 'Audiences in Jwt are not allowed',
  JwtNotYetValid: 'Jwt not yet valid',
  JwtExpired: 'Jwt is expired',
  JwtVerificationFail: 'Jwt verification fails',
  JwksKidAlgMismatch: "Jwks doesn't have key to match kid or alg from Jwt",
  JwksNoValidKeys: "Jwks doesn't have any valid public key",
  JwksFetchFail: 'Jwks remote fetch is failed',
};

/** The short, secret-free text Envoy puts in the reply body. */
export function failureMessage(f: JwtFailure): string {
  return MESSAGES[f];
}

/**
 * Envoy answers a token whose audience is not allowed with 403 and every other
 * failure with 401 (jwt_authn filter.cc, onComplete).
 */
export function failureHttpStatus(f: JwtFailure): 401 | 403 {
  return f === 'JwtAudienceNotAllowed' ? 403 : 401;
}

/**
 * Failures that will not change for the same token string while the key set
 * stays the same, so a short negative cache entry is safe. Key-lookup and fetch
 * failures are left out: a refetch may fix them.
 */
export function isStableFailure(f: JwtFailure): boolean {
  return f !== 'JwksKidAlgMismatch' && f !== 'JwksNoValidKeys' && f !== 'JwksFetchFail' && f !== 'JwtNotYetValid';
}
