// JWKS → verification keys, and the rule that pins a token's alg to a key.
// Keys are imported once per key set into node:crypto KeyObjects: one object
// serves every alg the key may verify (a WebCrypto CryptoKey is bound to one),
// and node:crypto's synchronous verify is what the hot path uses.
import { createPublicKey, createSecretKey, type KeyObject } from 'node:crypto';

export type KeyType = 'RSA' | 'EC' | 'OKP' | 'oct';

export interface VerificationKey {
  /** '' when the JWK has none. */
  kid: string;
  /** '' when the JWK does not pin one; otherwise the only alg this key verifies. */
  alg: string;
  kty: KeyType;
  /** EC / OKP curve name as in the JWK ("P-256", "Ed25519"); '' otherwise. */
  crv: string;
  key: KeyObject;
}

export interface KeySet {
  keys: readonly VerificationKey[];
}

export type JwksImport = { ok: true; set: KeySet; skipped: string[] } | { ok: false; reason: string };

/** Upper bound on keys taken from one JWKS (a kid-less token is tried against each). */
export const MAX_KEYS = 100;
/** RSA moduli below this are refused (jose's rule; Envoy accepts any size). */
export const MIN_RSA_BITS = 2048;

const EC_CURVE_OF_ALG: Record<string, string> = { ES256: 'P-256', ES384: 'P-384', ES512: 'P-521' };

/** Whether a key of this type/curve may verify `alg`. Keeps HMAC away from public keys and vice versa. */
export function keyFitsAlg(k: VerificationKey, alg: string): boolean {
  if (k.alg !== '' && k.alg !== alg) return false;
  switch (alg) {
    case 'RS256': case 'RS384': case 'RS512':
    case 'PS256': case 'PS384': case 'PS512':
      return k.kty === 'RSA';
    case 'ES256': case 'ES384': case 'ES512':
      return k.kty === 'EC' && k.crv === EC_CURVE_OF_ALG[alg];
    case 'EdDSA':
      return k.kty === 'OKP' && k.crv === 'Ed25519';
    case 'HS256': case 'HS384': case 'HS512':
      return k.kty === 'oct';
    default:
      return false;
  }
}

/**
 * Keys that may verify a token with this header, in JWKS order (Envoy's rule:
 * when both token and key carry a kid they must be equal; a key's alg, when
 * present, must equal the token's; the key type must fit the alg).
 */
export function candidateKeys(set: KeySet, alg: string, kid: string): VerificationKey[] {
  const out: VerificationKey[] = [];
  for (const k of set.keys) {
    if (kid !== '' && k.kid !== '' && k.kid !== kid) continue;
    if (keyFitsAlg(k, alg)) out.push(k);
  }
  return out;
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** One JWK → key, or the reason it is unusable (never includes key material). */
export function importJwk(jwk: unknown): VerificationKey | string {
  if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) return 'is not an object';
  const j = jwk as Record<string, unknown>;
  const kty = j.kty;
  if (kty !== 'RSA' && kty !== 'EC' && kty !== 'OKP' && kty !== 'oct') return `kty ${JSON.stringify(kty)} is not supported`;
  if (j.kid !== undefined && typeof j.kid !== 'string') return 'kid is not a string';
  if (j.alg !== undefined && typeof j.alg !== 'string') return 'alg is not a string';
  if (j.use !== undefined && j.use !== 'sig') return 'use is not "sig"';
  const kid = (j.kid as string | undefined) ?? '';
  const alg = (j.alg as string | undefined) ?? '';
  let key: KeyObject;
  let crv = '';
  try {
    if (kty === 'oct') {
      const k = str(j.k);
      if (!k) return 'k is missing';
      const bytes = Buffer.from(k, 'base64url');
      if (bytes.length === 0) return 'k is empty';
      key = createSecretKey(bytes);
    } else if (kty === 'RSA') {
      if (!str(j.n) || !str(j.e)) return 'n or e is missing';
      key = createPublicKey({ key: { kty, n: j.n as string, e: j.e as string }, format: 'jwk' });
      const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
      if (bits < MIN_RSA_BITS) return `RSA modulus of ${bits} bits is below ${MIN_RSA_BITS}`;
    } else if (kty === 'EC') {
      crv = str(j.crv) ?? '';
      if (crv !== 'P-256' && crv !== 'P-384' && crv !== 'P-521') return `crv ${JSON.stringify(j.crv)} is not supported for EC`;
      if (!str(j.x) || !str(j.y)) return 'x or y is missing';
      key = createPublicKey({ key: { kty, crv, x: j.x as string, y: j.y as string }, format: 'jwk' });
    } else {
      crv = str(j.crv) ?? '';
      if (crv !== 'Ed25519') return `crv ${JSON.stringify(j.crv)} is not supported for OKP`;
      if (!str(j.x)) return 'x is missing';
      key = createPublicKey({ key: { kty, crv, x: j.x as string }, format: 'jwk' });
    }
  } catch {
    return 'key material does not parse';
  }
  const k: VerificationKey = { kid, alg, kty, crv, key };
  // A key that pins an alg its type cannot do is a confusion attempt or a typo: unusable either way.
  if (alg !== '' && !keyFitsAlg(k, alg)) return `alg ${alg} does not fit a ${kty} key`;
  return k;
}

/** A JWKS document (JSON text or parsed) → usable keys. Fails when none is usable. */
export function importJwks(doc: unknown): JwksImport {
  let parsed = doc;
  if (typeof doc === 'string') {
    try {
      parsed = JSON.parse(doc);
    } catch {
      return { ok: false, reason: 'JWKS is not valid JSON' };
    }
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return { ok: false, reason: 'JWKS is not a JSON object' };
  const list = (parsed as Record<string, unknown>).keys;
  if (!Array.isArray(list)) return { ok: false, reason: 'JWKS has no "keys" array' };
  const keys: VerificationKey[] = [];
  const skipped: string[] = [];
  for (let i = 0; i < list.length && keys.length < MAX_KEYS; i++) {
    const k = importJwk(list[i]);
    if (typeof k === 'string') skipped.push(`keys[${i}]: ${k}`);
    else keys.push(k);
  }
  if (keys.length === 0) return { ok: false, reason: skipped.length ? `JWKS has no usable key (${skipped.join('; ')})` : 'JWKS has no keys' };
  return { ok: true, set: { keys }, skipped };
}
