// HTTP Basic authentication (SecurityPolicy basicAuth), with Envoy's
// basic_auth answers: 401 "User authentication failed. Missing username and
// password." / "… Invalid username/password combination.", plus
// WWW-Authenticate: Basic realm="<request URI>".
// - users: htpasswd lines, {SHA} (Envoy Gateway's form) or bcrypt;
// - a verified Authorization value is cached (keyed by its SHA-256, bounded,
//   5 minutes), so steady traffic pays bcrypt once; wrong ones are remembered
//   for 10 s so a replayed wrong password costs nothing either;
// - bcrypt runs behind a process-wide bound; beyond it the answer is 503 with
//   Retry-After, never an unbounded queue;
// - an unknown user still costs one bcrypt verification against a dummy hash
//   when the file has bcrypt entries, so timing does not tell which users exist;
// - forwardUsernameHeader carries the user upstream; a client's copy of that
//   header is always removed first.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, FilterModuleFor, Reply } from './types.ts';
import type { StoredHash } from '../ir/security-policy.ts';
import { VerifiedCache } from '../auth/credentials/verified-cache.ts';
import { sha1Matches, sha256Hex } from '../auth/credentials/hashes.ts';
import { bcryptGate } from '../auth/credentials/bcrypt-gate.ts';
import { authorityOf } from '../authz/ext-authz/headers.ts';


export const BASIC_AUTH_MISSING = 'User authentication failed. Missing username and password.';
export const BASIC_AUTH_INVALID = 'User authentication failed. Invalid username/password combination.';
export const VERIFIED_TTL_MS = 5 * 60_000;
export const REFUSED_TTL_MS = 10_000;
export const CACHE_ENTRIES = 10_000;
/** bcrypt (cost 10, htpasswd -B's default) of a discarded random string: what an unknown user is checked against. */
const DUMMY_BCRYPT = '$2b$10$Bcvm6xAjd9fMfb5nwIkXUeOqmwpZBKP5wAyVVdRDP159u3Opd2ywS';

const UNSAFE_REALM = /[^\x20-\x7e]|["\\]/g;

export function realmOf(ctx: RequestContext): string {
  const uri = `${ctx.scheme}://${authorityOf(ctx)}${ctx.path}`.replace(UNSAFE_REALM, '');
  return uri.length > 256 ? uri.slice(0, 256) : uri;
}

/** "Basic <base64>" → [user, password], or undefined when it is not a Basic credential. */
export function parseBasic(value: string): [string, string] | undefined {
  if (value.length < 6 || value.slice(0, 6).toLowerCase() !== 'basic ') return undefined;
  const b64 = value.slice(6).trim();
  if (b64.length === 0 || b64.length > 8192) return undefined;
  const decoded = Buffer.from(b64, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0) return undefined;
  return [decoded.slice(0, colon), decoded.slice(colon + 1)];
}

interface Outcome {
  user: string | undefined;
}

export const basicAuth: FilterModuleFor<'basicAuth'> = {
  type: 'basicAuth',
  compile(config, cc): CompiledFilter {
    const users = new Map<string, StoredHash>();
    // Envoy Gateway: the first line for a user wins.
    for (const u of config.passwordHashes) if (!users.has(u.user)) users.set(u.user, u.hash);
    const anyBcrypt = config.passwordHashes.some((u) => u.hash.kind === 'bcrypt');
    const cache = new VerifiedCache<Outcome>(CACHE_ENTRIES, VERIFIED_TTL_MS);
    const forward = config.forwardUsernameHeader;

    const deny = (ctx: RequestContext, body: string, reason: string): Reply => {
      ctx.record({ filter: 'basicAuth', origin: cc.origin, decision: 'deny', reason });
      return { status: 401, headers: { 'www-authenticate': `Basic realm="${realmOf(ctx)}"`, 'content-type': 'text/plain' }, body };
    };
    const busy = (ctx: RequestContext): Reply => {
      ctx.record({ filter: 'basicAuth', origin: cc.origin, decision: 'deny', reason: 'too many password verifications in flight' });
      return { status: 503, headers: { 'retry-after': '1', 'content-type': 'text/plain' }, body: 'authentication busy, retry later\n' };
    };
    const accept = (ctx: RequestContext, user: string): undefined => {
      ctx.identity.consumer = user;
      if (forward !== undefined) ctx.headers[forward] = user;
      if (ctx.trace) ctx.record({ filter: 'basicAuth', origin: cc.origin, decision: 'allow', reason: `user ${user}` });
      return undefined;
    };
    const settle = (ctx: RequestContext, digest: string, user: string, ok: boolean): Reply | undefined => {
      const now = Date.now();
      if (ok) {
        cache.set(digest, { user }, now);
        return accept(ctx, user);
      }
      cache.set(digest, { user: undefined }, now, REFUSED_TTL_MS);
      return deny(ctx, BASIC_AUTH_INVALID, `wrong password for user ${user.slice(0, 64)}`);
    };

    return {
      type: 'basicAuth',
      onRequest(ctx) {
        if (forward !== undefined && ctx.headers[forward] !== undefined) delete ctx.headers[forward];
        const header = ctx.headers.authorization;
        if (typeof header !== 'string') return deny(ctx, BASIC_AUTH_MISSING, 'no Authorization header');
        const digest = sha256Hex(header);
        const hit = cache.get(digest, Date.now());
        if (hit !== undefined) return hit.user !== undefined ? accept(ctx, hit.user) : deny(ctx, BASIC_AUTH_INVALID, 'credential refused recently');
        const cred = parseBasic(header);
        if (cred === undefined) return deny(ctx, BASIC_AUTH_MISSING, 'Authorization is not a Basic credential');
        const [user, password] = cred;
        const stored = users.get(user);
        if (stored === undefined) {
          if (!anyBcrypt) return deny(ctx, BASIC_AUTH_INVALID, `unknown user ${user.slice(0, 64)}`);
          const p = bcryptGate.verify(password, DUMMY_BCRYPT);
          if (p === undefined) return busy(ctx);
          return p.then(() => deny(ctx, BASIC_AUTH_INVALID, `unknown user ${user.slice(0, 64)}`));
        }
        if (stored.kind === 'sha1') return settle(ctx, digest, user, sha1Matches(password, stored.digestB64));
        if (stored.kind !== 'bcrypt') return deny(ctx, BASIC_AUTH_INVALID, 'unusable stored hash');
        const p = bcryptGate.verify(password, stored.hash);
        if (p === undefined) return busy(ctx);
        return p.then((ok) => settle(ctx, digest, user, ok));
      },
      close() {
        cache.clear();
      },
    };
  },
};
