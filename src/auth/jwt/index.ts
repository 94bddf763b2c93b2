// The JWT machinery, independent of any policy API: "one verifier, two front
// doors" (Istio RequestAuthentication, Envoy Gateway SecurityPolicy jwt).
export { JwtProvider, createJwksSource, DEFAULT_CLOCK_SKEW_SECONDS } from './provider.ts';
export type { JwksConfig, JwtProviderConfig, RemoteTuning, VerifiedJwt, VerifyResult } from './provider.ts';
export { acquireJwtProvider, jwksSources, jwtProviders, stableKey } from './registry.ts';
export { selectAndVerify } from './select.ts';
export type { SelectOutcome } from './select.ts';
export { failureHttpStatus, failureMessage } from './status.ts';
export type { JwtFailure } from './status.ts';
export { importJwks } from './keys.ts';
export { InlineJwksSource, RemoteJwksSource, discoveryUrl } from './jwks-source.ts';
export type { JwksSource, RemoteJwksOptions } from './jwks-source.ts';
export { claimAt, claimHeaderValue } from './claims.ts';
export { DEFAULT_LOCATIONS, withDefaultLocations, tokenFromHeader, queryParam, removeQueryParam, cookieValue, removeCookie } from './extract.ts';
export type { TokenLocations } from './extract.ts';
export type { Lease } from './shared.ts';
