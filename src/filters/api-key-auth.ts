// API key authentication (SecurityPolicy apiKeyAuth), with Envoy's
// api_key_auth answer for a missing or unknown key: 401 "Client
// authentication failed.".
// - Keys are looked up by their SHA-256 digest: the IR holds digests, never
//   keys, and the lookup's timing says nothing about the key sent. A Secret may
//   hold "sha256:<hex>" instead of the key (Portcullis extension), or a bcrypt
//   hash, checked (bounded, cached by digest) only when no digest matched.
// - extractFrom: the first source, in order, that carries a value is used.
// - forwardClientIDHeader carries the client id upstream (a client's copy is
//   removed first); sanitize removes the key from where it was found.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, FilterModuleFor, Reply } from './types.ts';
import { sha256Hex } from '../auth/credentials/hashes.ts';
import { VerifiedCache } from '../auth/credentials/verified-cache.ts';
import { bcryptGate } from '../auth/credentials/bcrypt-gate.ts';
import { cookieValue, queryParam, removeCookie, removeQueryParam } from '../auth/jwt/extract.ts';


export const API_KEY_FAILED = 'Client authentication failed.';

type Source = { kind: 'header' | 'param' | 'cookie'; name: string };

export const apiKeyAuth: FilterModuleFor<'apiKeyAuth'> = {
  type: 'apiKeyAuth',
  compile(config, cc): CompiledFilter {
    const byDigest = new Map<string, string>();
    const bcrypts: { clientId: string; hash: string }[] = [];
    const seenClients = new Set<string>();
    for (const c of config.credentials) {
      if (seenClients.has(c.clientId)) continue;
      seenClients.add(c.clientId);
      if (c.hash.kind === 'sha256') {
        if (!byDigest.has(c.hash.digestHex)) byDigest.set(c.hash.digestHex, c.clientId);
      } else if (c.hash.kind === 'bcrypt') bcrypts.push({ clientId: c.clientId, hash: c.hash.hash });
    }
    const sources: Source[] = [];
    for (const e of config.extractFrom) {
      for (const h of e.headers) sources.push({ kind: 'header', name: h });
      for (const p of e.params) sources.push({ kind: 'param', name: p });
      for (const k of e.cookies) sources.push({ kind: 'cookie', name: k });
    }
    const cache = new VerifiedCache<string | null>(bcrypts.length > 0 ? 10_000 : 0, 5 * 60_000);
    const forward = config.forwardClientIDHeader;

    /** The key at one source, undefined when it carries none (no object per request: the caller keeps the source). */
    const keyAt = (ctx: RequestContext, src: Source): string | undefined => {
      let v: string | undefined;
      if (src.kind === 'header') {
        const h = ctx.headers[src.name];
        v = Array.isArray(h) ? h[0] : h;
      } else if (src.kind === 'param') v = queryParam(ctx.query, src.name);
      else if (typeof ctx.headers.cookie === 'string') v = cookieValue(ctx.headers.cookie, src.name);
      return v === '' ? undefined : v;
    };
    const deny = (ctx: RequestContext, reason: string): Reply => {
      ctx.record({ filter: 'apiKeyAuth', origin: cc.origin, decision: 'deny', reason });
      return { status: 401, headers: { 'content-type': 'text/plain' }, body: API_KEY_FAILED };
    };
    const accept = (ctx: RequestContext, src: Source, clientId: string): undefined => {
      ctx.identity.consumer = clientId;
      if (forward !== undefined) ctx.headers[forward] = clientId;
      if (config.sanitize) {
        if (src.kind === 'header') delete ctx.headers[src.name];
        else if (src.kind === 'param') ctx.query = removeQueryParam(ctx.query, src.name);
        else {
          const rest = removeCookie(ctx.headers.cookie as string, src.name);
          if (rest === '') delete ctx.headers.cookie;
          else ctx.headers.cookie = rest;
        }
      }
      if (ctx.trace) ctx.record({ filter: 'apiKeyAuth', origin: cc.origin, decision: 'allow', reason: `client ${clientId}` });
      return undefined;
    };
    /** Tries the bcrypt entries one after another, each through the process-wide gate. */
    const tryBcrypt = (ctx: RequestContext, src: Source, key: string, digest: string, i: number): Reply | undefined | Promise<Reply | undefined> => {
      if (i >= bcrypts.length) {
        cache.set(digest, null, Date.now(), 10_000);
        return deny(ctx, 'unknown API key');
      }
      const p = bcryptGate.verify(key, bcrypts[i].hash);
      if (p === undefined) {
        ctx.record({ filter: 'apiKeyAuth', origin: cc.origin, decision: 'deny', reason: 'too many key verifications in flight' });
        return { status: 503, headers: { 'retry-after': '1', 'content-type': 'text/plain' }, body: 'authentication busy, retry later\n' };
      }
      return p.then((ok) => {
        if (!ok) return tryBcrypt(ctx, src, key, digest, i + 1);
        cache.set(digest, bcrypts[i].clientId, Date.now());
        return accept(ctx, src, bcrypts[i].clientId);
      });
    };

    return {
      type: 'apiKeyAuth',
      onRequest(ctx) {
        if (forward !== undefined && ctx.headers[forward] !== undefined) delete ctx.headers[forward];
        // extractFrom: the first source, in order, that carries a value.
        let i = 0;
        let key: string | undefined;
        while (i < sources.length && (key = keyAt(ctx, sources[i])) === undefined) i++;
        if (key === undefined) return deny(ctx, 'no API key');
        const src = sources[i];
        const digest = sha256Hex(key);
        const clientId = byDigest.get(digest);
        if (clientId !== undefined) return accept(ctx, src, clientId);
        if (bcrypts.length === 0) return deny(ctx, 'unknown API key');
        const hit = cache.get(digest, Date.now());
        if (hit !== undefined) return hit === null ? deny(ctx, 'unknown API key') : accept(ctx, src, hit);
        return tryBcrypt(ctx, src, key, digest, 0);
      },
      close() {
        cache.clear();
      },
    };
  },
};
