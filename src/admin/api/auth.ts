// Who is calling the admin API: a bearer token (the generated admin token,
// or a Kubernetes static token file), or a client certificate verified
// against --admin-client-ca (user = CN, groups = O). Group
// "portcullis:read-only" may read and watch but not write.
import { createHash, randomBytes } from 'node:crypto';
import { openSync, writeSync, closeSync, readFileSync, mkdirSync } from 'node:fs';
import type http from 'node:http';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';

export const READ_ONLY_GROUP = 'portcullis:read-only';
export const ADMIN_GROUP = 'portcullis:admins';

export interface Identity {
  user: string;
  groups: string[];
  method: 'token' | 'certificate' | 'anonymous';
  readOnly: boolean;
}

const ANONYMOUS: Identity = { user: 'system:anonymous', groups: ['system:unauthenticated'], method: 'anonymous', readOnly: true };

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Authenticator {
  // Keyed by the token's SHA-256: a lookup compares digests, never the secret's own bytes.
  private tokens = new Map<string, Identity>();
  readonly anonymousWrites: boolean;

  constructor(anonymousWrites = false) {
    this.anonymousWrites = anonymousWrites;
  }

  addToken(token: string, user: string, groups: string[]): void {
    this.tokens.set(digest(token), { user, groups, method: 'token', readOnly: groups.includes(READ_ONLY_GROUP) });
  }

  get tokenCount(): number {
    return this.tokens.size;
  }

  /** The caller, 'invalid' for a token or certificate that does not check out, undefined for no credentials. */
  authenticate(req: http.IncomingMessage): Identity | 'invalid' | undefined {
    const auth = req.headers.authorization;
    if (auth !== undefined) {
      const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
      if (!m) return 'invalid';
      return this.tokens.get(digest(m[1])) ?? 'invalid';
    }
    const sock = req.socket as TLSSocket;
    if (typeof sock.getPeerCertificate === 'function' && sock.authorized) {
      const cert = sock.getPeerCertificate();
      const cn = cert?.subject?.CN;
      if (typeof cn === 'string' && cn !== '') {
        const o = cert.subject.O;
        const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
        return { user: cn, groups, method: 'certificate', readOnly: groups.includes(READ_ONLY_GROUP) };
      }
    }
    return undefined;
  }

  /** Anonymous callers: full access only when --admin-allow-anonymous says so (local development). */
  anonymous(): Identity | undefined {
    return this.anonymousWrites ? { ...ANONYMOUS, readOnly: false } : undefined;
  }
}

/**
 * A Kubernetes static token file: `token,user,uid[,"group1,group2"]` per line
 * (kube-apiserver --token-auth-file). Returns the problems, by line.
 */
export function loadTokenFile(auth: Authenticator, file: string): string[] {
  const problems: string[] = [];
  const text = readFileSync(file, 'utf8');
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([^,\s]+)\s*,\s*([^,]+?)\s*,\s*([^,]*?)\s*(?:,\s*"?([^"]*)"?\s*)?$/.exec(line);
    if (!m) {
      problems.push(`${file}:${i + 1}: want token,user,uid[,"group1,group2"]`);
      return;
    }
    const groups = m[4] ? m[4].split(',').map((g) => g.trim()).filter(Boolean) : [];
    auth.addToken(m[1], m[2], groups);
  });
  return problems;
}

/**
 * The data directory's admin token: read it, or on first start write a new
 * one (mode 0600, never overwriting). Returns the token and whether it is new.
 */
export function ensureAdminToken(dataDir: string): { token: string; file: string; created: boolean } {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = join(dataDir, 'admin-token');
  try {
    const token = readFileSync(file, 'utf8').trim();
    if (token.length < 16) throw new Error(`${file} holds no usable token (want at least 16 characters); remove it to have a new one generated`);
    return { token, file, created: false };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const token = randomBytes(32).toString('base64url');
  let fd: number;
  try {
    fd = openSync(file, 'wx', 0o600);
  } catch (err) {
    // Another instance on the same data directory made it first: use that one.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return { token: readFileSync(file, 'utf8').trim(), file, created: false };
    throw err;
  }
  try {
    writeSync(fd, token + '\n');
  } finally {
    closeSync(fd);
  }
  return { token, file, created: true };
}
