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

export interface TokenEntry {
  token: string;
  user: string;
  groups: string[];
}

function identity(user: string, groups: string[]): Identity {
  return { user, groups, method: 'token', readOnly: groups.includes(READ_ONLY_GROUP) };
}

function digest(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class Authenticator {
  // Keyed by the token's SHA-256: a lookup compares digests, never the secret's own bytes.
  private tokens = new Map<string, Identity>();
  /** Tokens from the --admin-token-secret Secret: replaced as a whole whenever the Secret changes. */
  private secretTokens = new Map<string, Identity>();
  readonly anonymousWrites: boolean;

  constructor(anonymousWrites = false) {
    this.anonymousWrites = anonymousWrites;
  }

  addToken(token: string, user: string, groups: string[]): void {
    this.tokens.set(digest(token), identity(user, groups));
  }

  /** The tokens of the admin-token Secret, replacing the previous set (a line removed from it is revoked). */
  setSecretTokens(entries: readonly TokenEntry[]): void {
    this.secretTokens = new Map(entries.map((e) => [digest(e.token), identity(e.user, e.groups)]));
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
      const d = digest(m[1]);
      return this.tokens.get(d) ?? this.secretTokens.get(d) ?? 'invalid';
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
 * The lines of a Kubernetes static token file: `token,user,uid[,"group1,group2"]`
 * (kube-apiserver --token-auth-file). `where` names the source in problems.
 */
export function parseTokenLines(text: string, where: string): { entries: TokenEntry[]; problems: string[] } {
  const entries: TokenEntry[] = [];
  const problems: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const m = /^([^,\s]+)\s*,\s*([^,]+?)\s*,\s*([^,]*?)\s*(?:,\s*"?([^"]*)"?\s*)?$/.exec(line);
    if (!m) {
      problems.push(`${where}:${i + 1}: want token,user,uid[,"group1,group2"]`);
      return;
    }
    entries.push({ token: m[1], user: m[2], groups: m[4] ? m[4].split(',').map((g) => g.trim()).filter(Boolean) : [] });
  });
  return { entries, problems };
}

/** A Kubernetes static token file into `auth`. Returns the problems, by line. */
export function loadTokenFile(auth: Authenticator, file: string): string[] {
  const { entries, problems } = parseTokenLines(readFileSync(file, 'utf8'), file);
  for (const e of entries) auth.addToken(e.token, e.user, e.groups);
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
