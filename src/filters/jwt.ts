// JWT authentication from an Envoy Gateway SecurityPolicy (jwt.providers), as
// Envoy Gateway configures Envoy's jwt_authn: the providers are alternatives
// (requires_any); each has its own token locations (default: Authorization
// Bearer, then ?access_token=). A token that verifies with any provider
// authenticates the request; no token → 401 "Jwt is missing" unless
// jwt.optional (allow_missing); a token that no provider accepts → 401 (403
// for a disallowed audience) with the first refusal's message. The token is
// forwarded upstream (Envoy Gateway sets forward: true); claimToHeaders copy
// claims into request headers, after removing any client copy of them; with
// recomputeRoute those headers then take part in choosing the route again.
// Verification goes through the shared verifier in src/auth/jwt: a verified
// token is a synchronous cache hit.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, Decision, FilterModuleFor, Reply } from './types.ts';
import type { EgJwtConfig } from '../ir/security-policy.ts';
import type { JwtProvider, VerifyResult } from '../auth/jwt/provider.ts';
import { acquireJwtProvider } from '../auth/jwt/registry.ts';
import { failureHttpStatus, failureMessage, type JwtFailure } from '../auth/jwt/status.ts';
import { claimAt, claimHeaderValue } from '../auth/jwt/claims.ts';
import { cookieValue, queryParam, tokenFromHeader, withDefaultLocations } from '../auth/jwt/extract.ts';
import type { Lease } from '../auth/jwt/shared.ts';
import { realmOf } from './basic-auth.ts';
import { jwtRejected } from '../core/replies.ts';



/** Verified tokens kept per provider: sized for a large client population (entries are a few hundred bytes). */
export const EG_JWT_CACHE_ENTRIES = 65_536;

const UNSAFE_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;

interface Compiled {
  name: string;
  provider: JwtProvider;
  headers: { name: string; prefix: string }[];
  params: readonly string[];
  cookies: readonly string[];
  claimHeaders: { header: string; path: string[] }[];
}

type Failure = { failure: JwtFailure; detail?: string; provider: string };

export const egJwt: FilterModuleFor<'jwt'> = {
  type: 'jwt',
  compile(config, cc): CompiledFilter {
    const leases: Lease<JwtProvider>[] = [];
    const providers: Compiled[] = config.providers.map((p) => {
      const lease = acquireJwtProvider({ issuer: p.issuer || undefined, audiences: p.audiences, jwks: p.jwks, spaceDelimitedClaims: ['scope'], cacheSize: EG_JWT_CACHE_ENTRIES });
      leases.push(lease);
      const where = withDefaultLocations({ fromHeaders: p.fromHeaders, fromParams: p.fromParams, fromCookies: p.fromCookies });
      return {
        name: p.name,
        provider: lease.value,
        headers: where.fromHeaders.map((h) => ({ name: h.name.toLowerCase(), prefix: h.prefix })),
        params: where.fromParams,
        cookies: where.fromCookies,
        claimHeaders: p.claimToHeaders.map((c) => ({ header: c.header.toLowerCase(), path: c.claim.split('.') })),
      };
    });
    const sanitize = [...new Set(providers.flatMap((p) => p.claimHeaders.map((c) => c.header)))];
    const rerouting = new Set(config.providers.filter((p) => p.recomputeRoute).map((p) => p.name));

    const tokenFor = (ctx: RequestContext, p: Compiled): string | undefined => {
      for (let i = 0; i < p.headers.length; i++) {
        const v = ctx.headers[p.headers[i].name];
        const value = Array.isArray(v) ? v[0] : v;
        if (value === undefined) continue;
        const t = tokenFromHeader(value, p.headers[i].prefix);
        if (t !== undefined) return t;
      }
      if (ctx.query !== '') {
        for (let i = 0; i < p.params.length; i++) {
          const t = queryParam(ctx.query, p.params[i]);
          if (t !== undefined && t !== '') return t;
        }
      }
      const cookie = ctx.headers.cookie;
      if (p.cookies.length > 0 && typeof cookie === 'string') {
        for (let i = 0; i < p.cookies.length; i++) {
          const t = cookieValue(cookie, p.cookies[i]);
          if (t !== undefined && t !== '') return t;
        }
      }
      return undefined;
    };

    const accept = (ctx: RequestContext, p: Compiled, r: VerifyResult & { ok: true }): undefined => {
      const id = ctx.identity;
      id.requestPrincipal = r.jwt.principal;
      id.claims = r.jwt.claims;
      id.audiences = r.jwt.audiences as string[];
      id.presenter = r.jwt.presenter;
      id.jwtProvider = p.name;
      for (const c of p.claimHeaders) {
        const v = claimHeaderValue(claimAt(r.jwt.payload, c.path));
        if (v !== undefined && !UNSAFE_HEADER_VALUE.test(v)) ctx.headers[c.header] = v;
      }
      if (ctx.trace) ctx.record({ filter: 'jwt', origin: cc.origin, decision: 'allow', reason: `provider ${p.name}: ${r.jwt.principal}` });
      return undefined;
    };
    const deny = (ctx: RequestContext, f: Failure | undefined): Reply => {
      const realm = realmOf(ctx);
      if (f === undefined) {
        ctx.record({ filter: 'jwt', origin: cc.origin, decision: 'deny', reason: 'Jwt is missing' });
        return { status: 401, headers: { 'www-authenticate': `Bearer realm="${realm}"`, 'content-type': 'text/plain' }, body: 'Jwt is missing' };
      }
      const message = failureMessage(f.failure);
      ctx.record({ filter: 'jwt', origin: cc.origin, decision: 'deny', reason: `provider ${f.provider}: ${message}${f.detail ? ` (${f.detail})` : ''}` });
      return jwtRejected(failureHttpStatus(f.failure), message, realm);
    };

    /** Providers from index i on; `first` is the first refusal seen, `found` whether any token was present. */
    const step = (ctx: RequestContext, i: number, nowMs: number, first: Failure | undefined, found: boolean): Decision | Promise<Decision> => {
      for (; i < providers.length; i++) {
        const p = providers[i];
        const token = tokenFor(ctx, p);
        if (token === undefined) continue;
        found = true;
        const r = p.provider.verify(token, nowMs);
        if (r instanceof Promise) {
          const next = i + 1;
          const seen = found;
          return r.then((res) => (res.ok ? accept(ctx, p, res) : step(ctx, next, nowMs, first ?? { failure: res.failure, detail: res.detail, provider: p.name }, seen)));
        }
        if (r.ok) return accept(ctx, p, r);
        first ??= { failure: r.failure, detail: r.detail, provider: p.name };
      }
      if (!found) {
        if (config.optional) {
          if (ctx.trace) ctx.record({ filter: 'jwt', origin: cc.origin, decision: 'continue', reason: 'no token (jwt.optional)' });
          return undefined;
        }
        return deny(ctx, undefined);
      }
      return deny(ctx, first);
    };

    return {
      type: 'jwt',
      onRequest(ctx) {
        for (let i = 0; i < sanitize.length; i++) if (ctx.headers[sanitize[i]] !== undefined) delete ctx.headers[sanitize[i]];
        return step(ctx, 0, Date.now(), undefined, false);
      },
      close() {
        for (const l of leases) l.release();
      },
      // recomputeRoute: after a provider that asks for it verified the token, its claim headers take part in routing.
      ...(rerouting.size > 0 ? { recomputeRoute: (ctx: RequestContext) => ctx.identity.jwtProvider !== undefined && rerouting.has(ctx.identity.jwtProvider) } : {}),
    };
  },
};

/** Whether this request carries a token any provider would look at (any-of authentication). */
export function hasJwtCredential(config: EgJwtConfig, ctx: RequestContext): boolean {
  for (const p of config.providers) {
    const where = withDefaultLocations({ fromHeaders: p.fromHeaders, fromParams: p.fromParams, fromCookies: p.fromCookies });
    for (const h of where.fromHeaders) {
      const v = ctx.headers[h.name.toLowerCase()];
      if (typeof v === 'string' && tokenFromHeader(v, h.prefix) !== undefined) return true;
    }
    for (const q of where.fromParams) if (queryParam(ctx.query, q) !== undefined) return true;
    const cookie = ctx.headers.cookie;
    if (typeof cookie === 'string') for (const c of where.fromCookies) if (cookieValue(cookie, c) !== undefined) return true;
  }
  return false;
}
