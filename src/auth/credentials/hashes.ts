// The password and key hash forms Portcullis accepts, checked in constant time:
// - "{SHA}<base64 of SHA-1>": htpasswd -s, the form Envoy Gateway supports;
// - "$2y$…", "$2b$…", "$2a$…": bcrypt (htpasswd -B), verified off the event
//   loop by @node-rs/bcrypt, with a small bound on concurrent verifications;
// - "sha256:<hex>": SHA-256 of an API key (keys are random, so no salt is needed);
// - anything else in an API-key Secret: the key itself (Envoy Gateway's form),
//   turned into its SHA-256 digest when the configuration is translated.
import { createHash, hash, timingSafeEqual } from 'node:crypto';
import type { StoredHash } from '../../ir/security-policy.ts';

export type { StoredHash };


const BCRYPT = /^\$2[aby]\$[0-9]{2}\$[./A-Za-z0-9]{53}$/;
const SHA256_HEX = /^sha256:[0-9a-f]{64}$/i;

/** One-shot crypto.hash: no Hash object per call (the API-key lookup runs it per request; ~0.7 µs vs ~2 µs). */
export function sha256Hex(s: string): string {
  return hash('sha256', s, 'hex');
}

export function isBcrypt(s: string): boolean {
  return BCRYPT.test(s);
}

/** An htpasswd password field, or why it is not one Portcullis can check. */
export function parseHtpasswdHash(field: string): StoredHash | string {
  if (field.startsWith('{SHA}')) {
    const b64 = field.slice(5);
    const raw = Buffer.from(b64, 'base64');
    if (raw.length !== 20 || raw.toString('base64') !== b64) return 'the {SHA} hash must be the base64 of a 20-byte SHA-1 digest';
    return { kind: 'sha1', digestB64: b64 };
  }
  if (field.startsWith('$2')) return isBcrypt(field) ? { kind: 'bcrypt', hash: field } : 'malformed bcrypt hash (expected $2y$, $2b$ or $2a$, a two-digit cost and 53 characters)';
  if (field.startsWith('$apr1$')) return 'MD5 ($apr1$) hashes are not supported: use bcrypt (htpasswd -B) or SHA (htpasswd -s)';
  return 'unsupported password hash: use bcrypt (htpasswd -B) or SHA (htpasswd -s)';
}

/** An API key as stored in a Secret value. */
export function parseStoredApiKey(value: string): StoredHash {
  if (SHA256_HEX.test(value)) return { kind: 'sha256', digestHex: value.slice(7).toLowerCase() };
  if (isBcrypt(value)) return { kind: 'bcrypt', hash: value };
  return { kind: 'sha256', digestHex: sha256Hex(value) };
}

/** Constant-time check of a password against an htpasswd {SHA} digest. */
export function sha1Matches(password: string, digestB64: string): boolean {
  const got = createHash('sha1').update(password).digest();
  const want = Buffer.from(digestB64, 'base64');
  return got.length === want.length && timingSafeEqual(got, want);
}
