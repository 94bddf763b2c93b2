// Compact JWS → header, claims and the bytes the signature covers.
// Decoding uses jose (strict base64url, JSON object checks); nothing here
// trusts the token: the result is only an input for the verifier.
import { base64url, decodeJwt, decodeProtectedHeader } from 'jose';
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

/** Integer seconds claim: absent → 0, wrong type → undefined (a parse error, as in jwt_verify_lib). */
function timeClaim(v: unknown): number | undefined {
  if (v === undefined) return 0;
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return undefined;
  return Math.floor(v);
}

export function parseJwt(token: string): ParseResult {
  // Exactly two dots and three non-empty parts, as jwt_verify_lib requires.
  const d1 = token.indexOf('.');
  const d2 = d1 < 0 ? -1 : token.indexOf('.', d1 + 1);
  if (d1 <= 0 || d2 < 0 || d2 === d1 + 1 || d2 === token.length - 1 || token.indexOf('.', d2 + 1) >= 0) {
    return fail('JwtBadFormat');
  }
  let header: Record<string, unknown>;
  try {
    header = decodeProtectedHeader(token) as Record<string, unknown>;
  } catch {
    return fail('JwtHeaderParseError');
  }
  const alg = header.alg;
  if (typeof alg !== 'string') return fail('JwtHeaderBadAlg');
  if (!IMPLEMENTED_ALGS.has(alg)) return fail('JwtHeaderNotImplementedAlg');
  const kid = header.kid;
  if (kid !== undefined && typeof kid !== 'string') return fail('JwtHeaderBadKid');
  // "crit" names extensions the verifier must understand; we understand none.
  if (header.crit !== undefined) return fail('JwtVerificationFail');

  let claims: Record<string, unknown>;
  try {
    claims = decodeJwt(token) as Record<string, unknown>;
  } catch {
    return fail('JwtPayloadParseError');
  }
  const iss = claims.iss;
  const sub = claims.sub;
  if (iss !== undefined && typeof iss !== 'string') return fail('JwtPayloadParseError');
  if (sub !== undefined && typeof sub !== 'string') return fail('JwtPayloadParseError');
  const exp = timeClaim(claims.exp);
  const nbf = timeClaim(claims.nbf);
  if (exp === undefined || nbf === undefined || timeClaim(claims.iat) === undefined) return fail('JwtPayloadParseError');
  let audiences: string[];
  const aud = claims.aud;
  if (aud === undefined) audiences = [];
  else if (typeof aud === 'string') audiences = [aud];
  else if (Array.isArray(aud) && aud.every((a) => typeof a === 'string')) audiences = aud as string[];
  else return fail('JwtPayloadParseError');

  let signature: Uint8Array;
  try {
    signature = base64url.decode(token.slice(d2 + 1));
  } catch {
    return fail('JwtSignatureParseError');
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
