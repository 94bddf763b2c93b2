// Compact JWS → header, claims and the bytes the signature covers.
// The checks and their order are jwt_verify_lib's (Jwt::parseFromString), so a
// bad token gets the status Envoy would give it; base64url decoding is as strict as jose's.
// Nothing here trusts the token: the result is only an input for the verifier.
import type { JwtFailure } from './status.ts';

export interface ParsedJwt {
  token: string;
  alg: string;
  /** '' when the header has none. */
  kid: string;
  header: Record<string, unknown>;
  claims: Record<string, unknown>;
  /** The payload segment as sent (base64url): what outputPayloadToHeader forwards. */
  payloadSegment: string;
  /** "<header>.<payload>": the bytes the signature covers. */
  signingInput: string;
  signature: Uint8Array;
  /** '' when absent. */
  iss: string;
  sub: string | undefined;
  audiences: string[];
  /** Seconds since the epoch; 0 when absent. */
  exp: number;
  nbf: number;
}

export type ParseResult = { ok: true; jwt: ParsedJwt } | { ok: false; failure: JwtFailure };

/** Algorithms Envoy implements; anything else (including "none") is refused at parse time. */
export const IMPLEMENTED_ALGS: ReadonlySet<string> = new Set([
  'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512',
  'ES256', 'ES384', 'ES512', 'HS256', 'HS384', 'HS512', 'EdDSA',
]);

function fail(failure: JwtFailure): ParseResult {
  return { ok: false, failure };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Strict base64url (throws on any other character), as jose decodes it on this
 * Node; built in, so that a worker does not load jose (~15 MiB) for it.
 */
function decodeBase64url(s: string): Uint8Array {
  return Uint8Array.fromBase64(s, { alphabet: 'base64url' });
}

/** A base64url JSON object segment, or which of the two steps failed. */
function decodeSegment(seg: string): Record<string, unknown> | 'base64' | 'json' {
  let bytes: Uint8Array;
  try {
    bytes = decodeBase64url(seg);
  } catch {
    return 'base64';
  }
  let v: unknown;
  try {
    v = JSON.parse(utf8.decode(bytes));
  } catch {
    return 'json';
  }
  return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : 'json';
}

/**
 * A time claim in seconds: absent → 0; not a number → 'type'; negative → 'sign'.
 * (jwt_verify_lib reads an int64; a negative exp would only make the token expired.)
 */
function timeClaim(v: unknown): number | 'type' | 'sign' {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v)) return 'type';
  return v < 0 ? 'sign' : Math.floor(v);
}

export function parseJwt(token: string): ParseResult {
  // Exactly two dots and three non-empty parts, as jwt_verify_lib requires.
  const d1 = token.indexOf('.');
  const d2 = d1 < 0 ? -1 : token.indexOf('.', d1 + 1);
  if (d1 <= 0 || d2 < 0 || d2 === d1 + 1 || d2 === token.length - 1 || token.indexOf('.', d2 + 1) >= 0) {
    return fail('JwtBadFormat');
  }
  const header = decodeSegment(token.slice(0, d1));
  if (header === 'base64') return fail('JwtHeaderParseErrorBadBase64');
  if (header === 'json') return fail('JwtHeaderParseErrorBadJson');
  const alg = header.alg;
  if (typeof alg !== 'string') return fail('JwtHeaderBadAlg');
  if (!IMPLEMENTED_ALGS.has(alg)) return fail('JwtHeaderNotImplementedAlg');
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') return fail('JwtHeaderBadKid');
  // "crit" names extensions the verifier must understand; we understand none.
  if (header.crit !== undefined) return fail('JwtVerificationFail');

  const claims = decodeSegment(token.slice(d1 + 1, d2));
  if (claims === 'base64') return fail('JwtPayloadParseErrorBadBase64');
  if (claims === 'json') return fail('JwtPayloadParseErrorBadJson');
  const iss = claims.iss;
  const sub = claims.sub;
  if (iss !== undefined && typeof iss !== 'string') return fail('JwtPayloadParseErrorIssNotString');
  if (sub !== undefined && typeof sub !== 'string') return fail('JwtPayloadParseErrorSubNotString');
  const iat = timeClaim(claims.iat);
  if (iat === 'type') return fail('JwtPayloadParseErrorIatNotInteger');
  if (iat === 'sign') return fail('JwtPayloadParseErrorIatNotPositive');
  const nbf = timeClaim(claims.nbf);
  if (nbf === 'type') return fail('JwtPayloadParseErrorNbfNotInteger');
  if (nbf === 'sign') return fail('JwtPayloadParseErrorNbfNotPositive');
  const exp = timeClaim(claims.exp);
  if (exp === 'type') return fail('JwtPayloadParseErrorExpNotInteger');
  if (exp === 'sign') return fail('JwtPayloadParseErrorExpNotPositive');
  if (claims.jti !== undefined && typeof claims.jti !== 'string') return fail('JwtPayloadParseErrorJtiNotString');
  let audiences: string[];
  const aud = claims.aud;
  if (aud === undefined) audiences = [];
  else if (typeof aud === 'string') audiences = [aud];
  else if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) audiences = aud as string[];
  else return fail('JwtPayloadParseErrorAudNotString');

  let signature: Uint8Array;
  try {
    signature = decodeBase64url(token.slice(d2 + 1));
  } catch {
    return fail('JwtSignatureParseErrorBadBase64');
  }
  return {
    ok: true,
    jwt: {
      token,
      alg,
      kid: kid ?? '',
      header,
      claims,
      payloadSegment: token.slice(d1 + 1, d2),
      signingInput: token.slice(0, d2),
      signature,
      iss: iss ?? '',
      sub,
      audiences,
      exp,
      nbf,
    },
  };
}
