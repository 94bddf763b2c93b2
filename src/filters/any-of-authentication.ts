// Portcullis extension (SecurityPolicy spec.portcullis.authentication.mode:
// AnyOf): the policy's authentication methods become alternatives, as Kong's
// anonymous-consumer pattern and Envoy Gateway #8491 ask for. The first method
// (in Envoy Gateway's order: apiKeyAuth, basicAuth, jwt) whose credential the
// request carries decides alone — a present but wrong credential is refused
// by that method, never retried with another. No credential for any method →
// 401 with a challenge for each HTTP scheme offered.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, FilterModuleFor, Reply, RequestHandler } from './types.ts';
import type { ApiKeyAuthConfig } from '../ir/security-policy.ts';
import { apiKeyAuth, API_KEY_FAILED } from './api-key-auth.ts';
import { basicAuth, realmOf } from './basic-auth.ts';
import { egJwt, hasJwtCredential } from './jwt.ts';
import { cookieValue, queryParam } from '../auth/jwt/extract.ts';



function hasApiKey(c: ApiKeyAuthConfig, ctx: RequestContext): boolean {
  for (const e of c.extractFrom) {
    for (const h of e.headers) if (ctx.headers[h] !== undefined && ctx.headers[h] !== '') return true;
    for (const p of e.params) if (queryParam(ctx.query, p)) return true;
    const cookie = ctx.headers.cookie;
    if (typeof cookie === 'string') for (const k of e.cookies) if (cookieValue(cookie, k)) return true;
  }
  return false;
}

function hasBasic(ctx: RequestContext): boolean {
  const a = ctx.headers.authorization;
  return typeof a === 'string' && a.length > 6 && a.slice(0, 6).toLowerCase() === 'basic ';
}

export const anyOfAuthentication: FilterModuleFor<'anyOfAuthentication'> = {
  type: 'anyOfAuthentication',
  compile(config, cc): CompiledFilter {
    const compiled = config.methods.map((m) => {
      let filter: CompiledFilter;
      let present: (ctx: RequestContext) => boolean;
      if (m.type === 'apiKeyAuth') {
        filter = apiKeyAuth.compile(m.config, cc);
        present = (ctx) => hasApiKey(m.config, ctx);
      } else if (m.type === 'basicAuth') {
        filter = basicAuth.compile(m.config, cc);
        present = hasBasic;
      } else {
        filter = egJwt.compile(m.config, cc);
        present = (ctx) => hasJwtCredential(m.config, ctx);
      }
      return { type: m.type, filter, run: filter.onRequest as RequestHandler, present };
    });
    const identityHeaders: string[] = [];
    for (const m of config.methods) {
      if (m.type === 'apiKeyAuth' && m.config.forwardClientIDHeader) identityHeaders.push(m.config.forwardClientIDHeader);
      if (m.type === 'basicAuth' && m.config.forwardUsernameHeader) identityHeaders.push(m.config.forwardUsernameHeader);
      if (m.type === 'jwt') for (const p of m.config.providers) for (const c of p.claimToHeaders) identityHeaders.push(c.header);
    }
    const names = compiled.map((c) => c.type).join(', ');
    const jwtReroute = compiled.find((c) => c.type === 'jwt')?.filter.recomputeRoute;
    return {
      type: 'anyOfAuthentication',
      onRequest(ctx) {
        // Forwarded identity headers are the methods' own: each one removes a client's
        // copy of its header when it runs; methods that do not run must not leave one either.
        for (let i = 0; i < identityHeaders.length; i++) if (ctx.headers[identityHeaders[i]] !== undefined) delete ctx.headers[identityHeaders[i]];
        for (let i = 0; i < compiled.length; i++) {
          if (!compiled[i].present(ctx)) continue;
          if (ctx.trace) ctx.record({ filter: 'anyOfAuthentication', origin: cc.origin, decision: 'continue', reason: `credential for ${compiled[i].type} present: it decides` });
          return compiled[i].run(ctx);
        }
        const challenges: string[] = [];
        const realm = realmOf(ctx);
        if (compiled.some((c) => c.type === 'basicAuth')) challenges.push(`Basic realm="${realm}"`);
        if (compiled.some((c) => c.type === 'jwt')) challenges.push(`Bearer realm="${realm}"`);
        ctx.record({ filter: 'anyOfAuthentication', origin: cc.origin, decision: 'deny', reason: `no credential for any of ${names}` });
        const reply: Reply = { status: 401, headers: { 'content-type': 'text/plain' }, body: API_KEY_FAILED };
        if (challenges.length > 0) reply.headers!['www-authenticate'] = challenges;
        return reply;
      },
      close() {
        for (const c of compiled) c.filter.close?.();
      },
      // jwt recomputeRoute: the jwt method decides it when it was the one that ran.
      ...(jwtReroute ? { recomputeRoute: jwtReroute } : {}),
    };
  },
};
