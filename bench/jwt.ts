// A signing key and one token for the Istio scenario, made per run (nothing
// secret is checked in): RS256, the JWKS inlined in the RequestAuthentication.
import { generateKeyPairSync, sign, type KeyObject } from 'node:crypto';

export interface BenchIssuer {
  issuer: string;
  /** The public JWKS, as RequestAuthentication `jwks` wants it (a JSON string). */
  jwks: string;
  /** One valid token (subject "bench", an hour of validity). */
  token: string;
  /** n more valid tokens for the same subject, each distinct (a client population). */
  tokens(n: number): string[];
}

const b64url = (v: Buffer | string): string => Buffer.from(v).toString('base64url');

function signRs256(key: KeyObject, kid: string, claims: Record<string, unknown>): string {
  const head = b64url(JSON.stringify({ alg: 'RS256', typ: 'JWT', kid }));
  const body = b64url(JSON.stringify(claims));
  const sig = sign('RSA-SHA256', Buffer.from(`${head}.${body}`), key);
  return `${head}.${body}.${b64url(sig)}`;
}

export function benchIssuer(): BenchIssuer {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = 'bench';
  const issuer = 'https://issuer.bench.test';
  const jwk = { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' };
  const now = Math.floor(Date.now() / 1000);
  const token = signRs256(privateKey, kid, { iss: issuer, sub: 'bench', aud: 'bench', iat: now, exp: now + 3600 });
  const tokens = (n: number): string[] => Array.from({ length: n }, (_, i) => signRs256(privateKey, kid, { iss: issuer, sub: 'bench', aud: 'bench', iat: now, exp: now + 3600, jti: `bench-${i}` }));
  return { issuer, jwks: JSON.stringify({ keys: [jwk] }), token, tokens };
}
