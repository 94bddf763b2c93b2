// Istio RequestAuthentication on one hop, with the decisions Istio's Envoy
// config makes (pilot authn policy_applier + Envoy jwt_authn):
// - no token anywhere → the request goes on, unauthenticated;
// - every token found must verify with a rule configured for its location and
//   its `iss`; otherwise 401 (403 for a disallowed audience) with
//   WWW-Authenticate, whatever the authorization policies say;
// - the first verified token gives the request principal "<iss>/<sub>", claims,
//   audiences and presenter, and it alone fills the claim/payload headers; two
//   different tokens for one provider are refused (401); each token is
//   removed from where it was found unless forwardOriginalToken;
// - headers this filter writes are first removed from the incoming request, so
//   clients cannot forge them; CORS preflights are not checked.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, Decision, FilterModuleFor, Reply } from './types.ts';
import type { JwtProvider, VerifiedJwt } from '../auth/jwt/provider.ts';
import { ISTIO_REQUEST_AUTHENTICATION, type IstioRequestAuthenticationConfig } from '../ir/istio.ts';
export { ISTIO_REQUEST_AUTHENTICATION };
import { acquireJwtProvider } from '../auth/jwt/registry.ts';
import { selectAndVerify, type SelectOutcome } from '../auth/jwt/select.ts';
import { failureHttpStatus, failureMessage, type JwtFailure } from '../auth/jwt/status.ts';
import { jwtRejected } from '../core/replies.ts';
import { claimAt, claimHeaderValue } from '../auth/jwt/claims.ts';
import { cookieValue, queryParam, removeCookie, removeQueryParam, tokenFromHeader, withDefaultLocations } from '../auth/jwt/extract.ts';
import type { Lease } from '../auth/jwt/shared.ts';
import { authorityOf } from '../authz/ext-authz/headers.ts';


export type { IstioJwtRule, IstioRequestAuthenticationConfig } from '../ir/istio.ts';

interface CompiledRule {
  origin: string;
  /** "RequestAuthentication/ns/name jwtRules[i]" for the trace. */
  label: string;
  provider: JwtProvider;
  forward: boolean;
  payloadHeader: string | undefined;
  claimHeaders: { header: string; path: string[] }[];
}

type LocationKind = 'header' | 'param' | 'cookie';

interface Location {
  kind: LocationKind;
  name: string;
  /** Header value prefix ('' for none and for params/cookies). */
  prefix: string;
  /** Rules that look here, in provider order; their providers in the same order. */
  rules: CompiledRule[];
  providers: JwtProvider[];
}

interface Found {
  loc: Location;
  token: string;
}

type Outcome =
  | { ok: true; rule: CompiledRule; jwt: VerifiedJwt }
  | { ok: false; failure: JwtFailure; detail: string | undefined; rule: CompiledRule | undefined };

/** Characters Node refuses in a header value: a claim carrying them is not copied. */
const UNSAFE_HEADER_VALUE = /[^\t\x20-\x7e\x80-\xff]/;
/** What may not go into the realm="..." quoted string. */
const UNSAFE_REALM = /[^\x20-\x7e]|["\\]/g;
/** Envoy's MaximumUriLength for the realm. */
const MAX_REALM = 256;

/**
 * Envoy's realm is the request URI: scheme, Host (normalized, with its port) and path
 * (Http::Utility::buildOriginalUri). We leave the query out so an access_token is
 * never echoed back.
 */
function realmOf(ctx: RequestContext): string {
  const uri = `${ctx.scheme}://${authorityOf(ctx)}${ctx.path}`.replace(UNSAFE_REALM, '');
  return uri.length > MAX_REALM ? uri.slice(0, MAX_REALM) : uri;
}

function compileLocations(rules: CompiledRule[], config: IstioRequestAuthenticationConfig): { headers: Location[]; params: Location[]; cookies: Location[] } {
  const byKey = new Map<string, Location>();
  const lists: Record<LocationKind, Location[]> = { header: [], param: [], cookie: [] };
  const add = (kind: LocationKind, name: string, prefix: string, rule: CompiledRule): void => {
    const key = `${kind}\u0000${name}\u0000${prefix}`;
    let loc = byKey.get(key);
    if (loc === undefined) {
      loc = { kind, name, prefix, rules: [], providers: [] };
      byKey.set(key, loc);
      lists[kind].push(loc);
    }
    if (!loc.rules.includes(rule)) {
      loc.rules.push(rule);
      loc.providers.push(rule.provider);
    }
  };
  config.rules.forEach((r, i) => {
    const where = withDefaultLocations(r);
    for (const h of where.fromHeaders) add('header', h.name.toLowerCase(), h.prefix, rules[i]);
    for (const p of where.fromParams) add('param', p, '', rules[i]);
    for (const c of where.fromCookies) add('cookie', c, '', rules[i]);
  });
  return { headers: lists.header, params: lists.param, cookies: lists.cookie };
}

/** The claim and payload headers of every rule (lowercase): only the gateway may set them. */
function identityHeadersOf(config: IstioRequestAuthenticationConfig): string[] {
  const names = new Set<string>();
  for (const r of config.rules) {
    if (r.outputPayloadToHeader) names.add(r.outputPayloadToHeader.toLowerCase());
    for (const o of r.outputClaimToHeaders) names.add(o.header.toLowerCase());
  }
  return [...names];
}

export const istioRequestAuthentication: FilterModuleFor<'istio.requestAuthentication'> = {
  type: ISTIO_REQUEST_AUTHENTICATION,
  identityHeaders: identityHeadersOf,
  compile(config, cc): CompiledFilter {
    const leases: Lease<JwtProvider>[] = [];
    const rules: CompiledRule[] = config.rules.map((r) => {
      const lease = acquireJwtProvider({
        issuer: r.issuer,
        audiences: r.audiences,
        jwks: r.jwks,
        spaceDelimitedClaims: r.spaceDelimitedClaims,
      });
      leases.push(lease);
      return {
        origin: r.origin,
        label: `${r.origin} jwtRules[${r.ruleIndex}]`,
        provider: lease.value,
        forward: r.forwardOriginalToken,
        payloadHeader: r.outputPayloadToHeader?.toLowerCase(),
        claimHeaders: r.outputClaimToHeaders.map((o) => ({ header: o.header.toLowerCase(), path: o.claim.split('.') })),
      };
    });
    const { headers: headerLocs, params: paramLocs, cookies: cookieLocs } = compileLocations(rules, config);
    const sanitize = identityHeadersOf(config);

    const extract = (ctx: RequestContext): Found[] | undefined => {
      let out: Found[] | undefined;
      for (let i = 0; i < headerLocs.length; i++) {
        const loc = headerLocs[i];
        const v = ctx.headers[loc.name];
        if (v === undefined) continue;
        if (typeof v === 'string') {
          const token = tokenFromHeader(v, loc.prefix);
          if (token !== undefined) (out ??= []).push({ loc, token });
          continue;
        }
        for (const value of v) {
          const token = tokenFromHeader(value, loc.prefix);
          if (token !== undefined) (out ??= []).push({ loc, token });
        }
      }
      if (paramLocs.length > 0 && ctx.query !== '') {
        for (let i = 0; i < paramLocs.length; i++) {
          const token = queryParam(ctx.query, paramLocs[i].name);
          if (token !== undefined) (out ??= []).push({ loc: paramLocs[i], token });
        }
      }
      const cookie = ctx.headers.cookie;
      if (cookieLocs.length > 0 && typeof cookie === 'string') {
        for (let i = 0; i < cookieLocs.length; i++) {
          const token = cookieValue(cookie, cookieLocs[i].name);
          if (token !== undefined) (out ??= []).push({ loc: cookieLocs[i], token });
        }
      }
      return out;
    };

    const fromSelection = (s: SelectOutcome, loc: Location): Outcome =>
      s.ok ? { ok: true, rule: loc.rules[s.index], jwt: s.result.jwt } : { ok: false, failure: s.failure, detail: s.detail, rule: s.index >= 0 ? loc.rules[s.index] : undefined };

    const verifyAt = (f: Found, nowMs: number): Outcome | Promise<Outcome> => {
      // Hot path: a verified token is a cache hit on one of the location's providers.
      const locRules = f.loc.rules;
      for (let i = 0; i < locRules.length; i++) {
        const hit = locRules[i].provider.lookup(f.token, nowMs);
        if (hit !== undefined && hit.ok) return { ok: true, rule: locRules[i], jwt: hit.jwt };
      }
      const s = selectAndVerify(f.token, f.loc.providers, nowMs);
      return s instanceof Promise ? s.then((x) => fromSelection(x, f.loc)) : fromSelection(s, f.loc);
    };

    const deny = (ctx: RequestContext, o: Outcome & { ok: false }): Reply => {
      const message = failureMessage(o.failure);
      ctx.record({
        filter: ISTIO_REQUEST_AUTHENTICATION,
        origin: o.rule?.origin ?? cc.origin,
        decision: 'deny',
        reason: `${o.rule ? `${o.rule.label}: ` : ''}${message}${o.detail ? ` (${o.detail})` : ''}`,
      });
      return jwtRejected(failureHttpStatus(o.failure), message, realmOf(ctx));
    };

    const removeToken = (ctx: RequestContext, loc: Location): void => {
      if (loc.kind === 'header') delete ctx.headers[loc.name];
      else if (loc.kind === 'param') ctx.query = removeQueryParam(ctx.query, loc.name);
      else {
        const cookie = ctx.headers.cookie;
        if (typeof cookie !== 'string') return;
        const rest = removeCookie(cookie, loc.name);
        if (rest === '') delete ctx.headers.cookie;
        else ctx.headers.cookie = rest;
      }
    };

    const finish = (ctx: RequestContext, found: Found[], outcomes: Outcome[]): Decision => {
      for (const o of outcomes) if (!o.ok) return deny(ctx, o);
      // Two different tokens for one provider (say a header and ?access_token=):
      // which caller is this? Istio refuses the request (401) rather than pick one.
      for (let i = 1; i < outcomes.length; i++) {
        for (let j = 0; j < i; j++) {
          if ((outcomes[i] as Outcome & { ok: true }).rule === (outcomes[j] as Outcome & { ok: true }).rule && found[i].token !== found[j].token) {
            return deny(ctx, { ok: false, failure: 'JwtVerificationFail', detail: 'more than one token for the same provider', rule: (outcomes[i] as Outcome & { ok: true }).rule });
          }
        }
      }
      const first = outcomes[0] as Outcome & { ok: true };
      const id = ctx.identity;
      id.requestPrincipal = first.jwt.principal;
      id.claims = first.jwt.claims;
      id.audiences = first.jwt.audiences as string[];
      id.presenter = first.jwt.presenter;
      // Every claim header comes from the token authorization reads (the first):
      // never one identity for the policies and another for the backend.
      if (first.rule.payloadHeader !== undefined) ctx.headers[first.rule.payloadHeader] = first.jwt.payloadSegment;
      for (const c of first.rule.claimHeaders) {
        const v = claimHeaderValue(claimAt(first.jwt.payload, c.path));
        if (v !== undefined && !UNSAFE_HEADER_VALUE.test(v)) ctx.headers[c.header] = v;
      }
      // Removed after every token was read: two locations may share a header.
      for (let i = 0; i < outcomes.length; i++) {
        const { rule } = outcomes[i] as Outcome & { ok: true };
        if (!rule.forward) removeToken(ctx, found[i].loc);
      }
      if (ctx.trace) {
        ctx.record({
          filter: ISTIO_REQUEST_AUTHENTICATION,
          origin: first.rule.origin,
          decision: 'allow',
          reason: `requestPrincipal ${first.jwt.principal} (${first.rule.label})`,
        });
      }
      return undefined;
    };

    return {
      type: ISTIO_REQUEST_AUTHENTICATION,
      onRequest(ctx) {
        // JWT identity is per hop (each Istio proxy authenticates what it receives).
        const id = ctx.identity;
        id.requestPrincipal = undefined;
        id.claims = undefined;
        id.audiences = undefined;
        id.presenter = undefined;
        // First, on every path: the data plane strips these after routing too
        // (identityHeaders), this keeps explain and a chain run alone the same.
        for (let i = 0; i < sanitize.length; i++) if (ctx.headers[sanitize[i]] !== undefined) delete ctx.headers[sanitize[i]];
        // Istio sets bypass_cors_preflight: a preflight carries no credentials.
        if (ctx.method === 'OPTIONS' && ctx.headers.origin !== undefined && ctx.headers['access-control-request-method'] !== undefined) {
          if (ctx.trace) ctx.record({ filter: ISTIO_REQUEST_AUTHENTICATION, origin: cc.origin, decision: 'continue', reason: 'CORS preflight is not authenticated' });
          return undefined;
        }

        const found = extract(ctx);
        if (found === undefined) {
          if (ctx.trace) ctx.record({ filter: ISTIO_REQUEST_AUTHENTICATION, origin: cc.origin, decision: 'continue', reason: 'no token' });
          return undefined;
        }
        const now = Date.now();
        const outcomes: Outcome[] = [];
        let pending: Promise<void>[] | undefined;
        for (let i = 0; i < found.length; i++) {
          const o = verifyAt(found[i], now);
          if (o instanceof Promise) {
            (pending ??= []).push(
              o.then((r) => {
                outcomes[i] = r;
              }),
            );
          } else if (!o.ok) {
            return deny(ctx, o);
          } else {
            outcomes[i] = o;
          }
        }
        if (pending === undefined) return finish(ctx, found, outcomes);
        // Verification promises do not reject; should one ever, the request fails closed.
        return Promise.all(pending).then(
          () => finish(ctx, found, outcomes),
          () => deny(ctx, { ok: false, failure: 'JwtVerificationFail', detail: 'internal error', rule: undefined }),
        );
      },
      close() {
        for (const l of leases) l.release();
      },
    };
  },
};
