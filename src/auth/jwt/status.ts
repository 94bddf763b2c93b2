// Why a token was refused. The codes and messages follow Envoy's jwt_authn
// (google/jwt_verify_lib status strings), because that is what clients of an
// Istio or Envoy Gateway proxy see today and what their tooling matches on.

export type JwtFailure =
  | 'JwtBadFormat'
  | 'JwtHeaderParseErrorBadBase64'
  | 'JwtHeaderParseErrorBadJson'
  | 'JwtHeaderBadAlg'
  | 'JwtHeaderNotImplementedAlg'
  | 'JwtHeaderBadKid'
  | 'JwtPayloadParseErrorBadBase64'
  | 'JwtPayloadParseErrorBadJson'
  | 'JwtPayloadParseErrorIssNotString'
  | 'JwtPayloadParseErrorSubNotString'
  | 'JwtPayloadParseErrorIatNotInteger'
  | 'JwtPayloadParseErrorIatNotPositive'
  | 'JwtPayloadParseErrorNbfNotInteger'
  | 'JwtPayloadParseErrorNbfNotPositive'
  | 'JwtPayloadParseErrorExpNotInteger'
  | 'JwtPayloadParseErrorExpNotPositive'
  | 'JwtPayloadParseErrorJtiNotString'
  | 'JwtPayloadParseErrorAudNotString'
  | 'JwtSignatureParseErrorBadBase64'
  | 'JwtUnknownIssuer'
  | 'JwtAudienceNotAllowed'
  | 'JwtNotYetValid'
  | 'JwtExpired'
  | 'JwtVerificationFail'
  | 'JwksKidAlgMismatch'
  | 'JwksNoValidKeys'
  | 'JwksFetchFail';

// jwt_verify_lib's status strings (status.cc), word for word.
const MESSAGES: Record<JwtFailure, string> = {
  JwtBadFormat: 'Jwt is not in the form of Header.Payload.Signature with two dots and 3 sections',
  JwtHeaderParseErrorBadBase64: 'Jwt header is an invalid Base64url encoded',
  JwtHeaderParseErrorBadJson: 'Jwt header is an invalid JSON',
  JwtHeaderBadAlg: 'Jwt header [alg] field is required and must be a string',
  JwtHeaderNotImplementedAlg: 'Jwt header [alg] is not supported',
  JwtHeaderBadKid: 'Jwt header [kid] field is not a string',
  JwtPayloadParseErrorBadBase64: 'Jwt payload is an invalid Base64url encoded',
  JwtPayloadParseErrorBadJson: 'Jwt payload is an invalid JSON',
  JwtPayloadParseErrorIssNotString: 'Jwt payload [iss] field is not a string',
  JwtPayloadParseErrorSubNotString: 'Jwt payload [sub] field is not a string',
  JwtPayloadParseErrorIatNotInteger: 'Jwt payload [iat] field is not an integer',
  JwtPayloadParseErrorIatNotPositive: 'Jwt payload [iat] field is not a positive integer',
  JwtPayloadParseErrorNbfNotInteger: 'Jwt payload [nbf] field is not an integer',
  JwtPayloadParseErrorNbfNotPositive: 'Jwt payload [nbf] field is not a positive integer',
  JwtPayloadParseErrorExpNotInteger: 'Jwt payload [exp] field is not an integer',
  JwtPayloadParseErrorExpNotPositive: 'Jwt payload [exp] field is not a positive integer',
  JwtPayloadParseErrorJtiNotString: 'Jwt payload [jti] field is not a string',
  JwtPayloadParseErrorAudNotString: 'Jwt payload [aud] field is not a string or string list',
  JwtSignatureParseErrorBadBase64: 'Jwt signature is an invalid Base64url encoded',
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
