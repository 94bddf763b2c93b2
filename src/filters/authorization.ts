// SecurityPolicy authorization, as Envoy Gateway builds Envoy's RBAC from it:
// rules in order, the first whose every principal part (and operation) matches
// decides; no match → defaultAction (Deny when unset). A denial is 403
// "RBAC: access denied".
// - clientCIDRs: the client address after client IP detection (the
//   ClientTrafficPolicy's X-Forwarded-For trust), never a header the client wrote;
// - jwt: claims and scopes of the token that the named provider of the same
//   SecurityPolicy verified (none verified → no match);
// - headers: exact values;
// - operation.methods: the request method.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, FilterModuleFor, Reply } from './types.ts';
import type { EgAuthorizationRule } from '../ir/security-policy.ts';
import { compileIpMatcher, type IpMatcher } from '../authz/ip-match.ts';
import { claimAt } from '../auth/jwt/claims.ts';
import { gatewayReply } from '../core/replies.ts';




type Predicate = (ctx: RequestContext) => boolean;

function claimPredicate(c: { name: string; valueType: 'String' | 'StringArray'; values: string[] }): (claims: Record<string, unknown>) => boolean {
  const path = c.name.split('.');
  const values = new Set(c.values);
  if (c.valueType === 'StringArray') {
    return (claims) => {
      const v = claimAt(claims, path);
      if (!Array.isArray(v)) return false;
      for (const x of v) if (typeof x === 'string' && values.has(x)) return true;
      return false;
    };
  }
  return (claims) => {
    const v = claimAt(claims, path);
    return typeof v === 'string' && values.has(v);
  };
}

function scopesOf(claims: Record<string, unknown>): readonly unknown[] {
  const s = claims.scope;
  if (Array.isArray(s)) return s;
  return typeof s === 'string' ? s.split(' ') : [];
}

function compileRule(r: EgAuthorizationRule): Predicate {
  const parts: Predicate[] = [];
  if (r.methods && r.methods.length > 0) {
    const m = new Set(r.methods);
    parts.push((ctx) => m.has(ctx.method));
  }
  if (r.clientCIDRs && r.clientCIDRs.length > 0) {
    const ip: IpMatcher = compileIpMatcher(r.clientCIDRs).matcher;
    parts.push((ctx) => ip.has(ctx.clientIp));
  }
  if (r.jwt) {
    const provider = r.jwt.provider;
    const claimChecks = r.jwt.claims.map(claimPredicate);
    const scopes = r.jwt.scopes;
    parts.push((ctx) => {
      const id = ctx.identity;
      if (id.jwtProvider !== provider || id.claims === undefined) return false;
      const claims = id.claims;
      for (let i = 0; i < claimChecks.length; i++) if (!claimChecks[i](claims)) return false;
      if (scopes.length > 0) {
        const have = scopesOf(claims);
        for (let i = 0; i < scopes.length; i++) if (!have.includes(scopes[i])) return false;
      }
      return true;
    });
  }
  for (const h of r.headers ?? []) {
    const values = new Set(h.values);
    const name = h.name;
    parts.push((ctx) => {
      const v = ctx.headers[name];
      if (v === undefined) return false;
      if (typeof v === 'string') return values.has(v);
      for (const x of v) if (values.has(x)) return true;
      return false;
    });
  }
  return (ctx) => {
    for (let i = 0; i < parts.length; i++) if (!parts[i](ctx)) return false;
    return true;
  };
}

export const egAuthorization: FilterModuleFor<'authorization'> = {
  type: 'authorization',
  compile(config, cc): CompiledFilter {
    // The trace's reasons are built here, once: not a string concatenation per request.
    const rules = config.rules.map((r) => ({ allow: r.action === 'Allow', match: compileRule(r), why: `rule ${r.name} (${r.action === 'Allow' ? 'Allow' : 'Deny'})` }));
    const defaultAllow = config.defaultAction === 'Allow';
    const noRule = `no rule matched: defaultAction ${defaultAllow ? 'Allow' : 'Deny'}`;
    const denied: Reply = gatewayReply('rbacDenied');
    const decide = (ctx: RequestContext, allow: boolean, why: string): Reply | undefined => {
      if (!allow) {
        ctx.record({ filter: 'authorization', origin: cc.origin, decision: 'deny', reason: why });
        return denied;
      }
      if (ctx.trace) ctx.record({ filter: 'authorization', origin: cc.origin, decision: 'allow', reason: why });
      return undefined;
    };
    return {
      type: 'authorization',
      onRequest(ctx) {
        for (let i = 0; i < rules.length; i++) {
          if (rules[i].match(ctx)) return decide(ctx, rules[i].allow, rules[i].why);
        }
        return decide(ctx, defaultAllow, noRule);
      },
    };
  },
};
