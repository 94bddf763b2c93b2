// Filter 'istio.authorization': the AuthorizationPolicies of one hop, evaluated
// as Istio's proxies do. Order: CUSTOM (the external authorizer decides, only
// for requests matching a CUSTOM rule), then AUDIT (recorded, no effect), then
// DENY (any match → 403), then ALLOW (when any ALLOW policy applies to the hop,
// the request must match one of them). Dry-run policies are evaluated and
// recorded, never enforced. Denials answer 403 "RBAC: access denied", as Envoy.
//
// Within a rule: `when` conditions AND `from` (any entry) AND `to` (any entry);
// within an entry, every field must match; within a field, any value. A not*
// field fails when any of its values matches. Everything is compiled once per
// snapshot; a request that needs no external check is decided synchronously.
import type { RequestContext } from '../core/request.ts';
import type { TraceEntry } from '../core/trace.ts';
import type { CompiledFilter, Decision, FilterModuleFor, Reply } from './types.ts';
import { gatewayReply } from '../core/replies.ts';
import { compileStringMatcher, parseWildcard, type StringPredicate, type StringPattern } from '../authz/string-match.ts';
import { compileIpMatcher } from '../authz/ip-match.ts';
import { compilePathTemplate, containsPathTemplate } from '../authz/path-template.ts';
import { compileRegex, escapeRegex, type LinearRegex } from '../match/regex.ts';
import { applyExtAuthzResult, createExtAuthzClient, type ExtAuthzClient, type ExtAuthzConfig } from '../authz/ext-authz/client.ts';
import { authorityOf, headerValue, pathAndQuery } from '../authz/ext-authz/headers.ts';
import { recordDryRun } from '../policy/dry-run.ts';


// The IR config (plain JSON, produced by translate/istio/authorization-policy.ts) lives in src/ir/istio.ts.
export type { IstioAttribute, IstioAuthorizationConfig, IstioCondition, IstioPolicy, IstioRule } from '../ir/istio.ts';
import { ISTIO_AUTHORIZATION, type IstioAuthorizationConfig, type IstioCondition, type IstioPolicy } from '../ir/istio.ts';
export { ISTIO_AUTHORIZATION };

// ---- compilation ----

type Predicate = (ctx: RequestContext) => boolean;

const always: Predicate = () => true;

interface CompiledRule {
  when: Predicate[];
  from: Predicate[][] | null;
  to: Predicate[][] | null;
}

interface CompiledPolicy {
  rules: CompiledRule[];
  /** One trace entry per rule, built once. */
  matched: TraceEntry[];
}

function allOf(preds: Predicate[], ctx: RequestContext): boolean {
  for (let i = 0; i < preds.length; i++) if (!preds[i](ctx)) return false;
  return true;
}

function anyEntry(entries: Predicate[][], ctx: RequestContext): boolean {
  for (let i = 0; i < entries.length; i++) if (allOf(entries[i], ctx)) return true;
  return false;
}

function ruleMatches(r: CompiledRule, ctx: RequestContext): boolean {
  return allOf(r.when, ctx) && (r.from === null || anyEntry(r.from, ctx)) && (r.to === null || anyEntry(r.to, ctx));
}

/** Index of the first matching rule, or -1. */
function firstMatch(p: CompiledPolicy, ctx: RequestContext): number {
  for (let i = 0; i < p.rules.length; i++) if (ruleMatches(p.rules[i], ctx)) return i;
  return -1;
}

/** Istio's own regexes around escaped values: no program-size bound (see match/regex.ts). */
const BUILT_FROM_LITERALS = { maxProgramSize: Infinity };

/** Plain loop: no closure per request. Whole-value matches, in linear time (RE2). */
function anyMatches(res: LinearRegex[], s: string): boolean {
  for (let i = 0; i < res.length; i++) if (res[i].matches(s)) return true;
  return false;
}

/** Istio's wildcard for string attributes: a lone "*" is ".+". */
function stringMatcher(values: string[], ignoreCase = false): StringPredicate {
  return compileStringMatcher(values.map((v) => parseWildcard(v, 'nonEmpty')), { ignoreCase });
}

/** Istio's wildcard for headers (and :method, :authority): a lone "*" is presence. */
function headerMatcher(values: string[], ignoreCase = false): StringPredicate {
  return compileStringMatcher(values.map((v) => parseWildcard(v, 'present')), { ignoreCase });
}

const SPIFFE = 'spiffe://';

/**
 * Istio matches source principals against the peer's URI SAN with "spiffe://"
 * prepended to the pattern (StringMatcherWithPrefix); our principal is stored
 * without the scheme, so exact and prefix compare directly and a suffix longer
 * than the principal is tried against the full URI.
 */
function principalMatcher(values: string[]): StringPredicate {
  const pats = values.map((v) => parseWildcard(v, 'nonEmpty'));
  const plain = compileStringMatcher(pats.filter((p) => p.kind !== 'suffix'));
  const suffixes: string[] = [];
  for (const p of pats) if (p.kind === 'suffix') suffixes.push(p.value);
  return (principal) => {
    if (principal === undefined) return false;
    if (plain(principal)) return true;
    for (const s of suffixes) {
      if (s.length <= principal.length ? principal.endsWith(s) : (SPIFFE + principal).endsWith(s)) return true;
    }
    return false;
  };
}

/**
 * source.namespace: Istio's regex ".*\/ns/<value, * as .*>/.*" over the
 * principal. Without a "*" that is a substring test (principals hold no line
 * breaks), which is what most policies need.
 */
function namespaceMatcher(values: string[]): StringPredicate {
  const needles = values.filter((v) => !v.includes('*')).map((v) => `/ns/${v}/`);
  const res = values.filter((v) => v.includes('*')).map((v) => compileRegex(`.*/ns/${v.split('*').map(escapeRegex).join('.*')}/.*`, BUILT_FROM_LITERALS));
  return (principal) => {
    if (principal === undefined) return false;
    for (let i = 0; i < needles.length; i++) if (principal.includes(needles[i])) return true;
    return anyMatches(res, principal);
  };
}

/** source.serviceAccount "ns/sa": Istio's "spiffe://.+/ns/<ns>/(.+/|)sa/<sa>(/.+)?". */
function serviceAccountMatcher(values: string[]): StringPredicate {
  const res = values.map((v) => {
    const [ns, sa] = v.split('/');
    return compileRegex(`.+/ns/${escapeRegex(ns)}/(.+/|)sa/${escapeRegex(sa)}(/.+)?`, BUILT_FROM_LITERALS);
  });
  return (principal) => principal !== undefined && anyMatches(res, principal);
}

function claimsOf(ctx: RequestContext): Record<string, unknown> | undefined {
  const c = ctx.identity.claims;
  return c !== null && typeof c === 'object' ? c : undefined;
}

/** The token's iss (or sub): its claim, else its part of the request principal "<iss>/<sub>". */
function principalPart(ctx: RequestContext, claim: 'iss' | 'sub'): string | undefined {
  const value = claimsOf(ctx)?.[claim];
  if (typeof value === 'string') return value;
  const rp = ctx.identity.requestPrincipal;
  if (rp === undefined) return undefined;
  const slash = rp.lastIndexOf('/');
  if (claim === 'iss') return slash < 0 ? rp : rp.slice(0, slash);
  return slash < 0 ? undefined : rp.slice(slash + 1);
}

const issuer = (ctx: RequestContext) => principalPart(ctx, 'iss');
const subject = (ctx: RequestContext) => principalPart(ctx, 'sub');

/**
 * request.auth.principal / requestPrincipals: Istio splits the value at its last
 * "/" into issuer and subject and matches the JWT's iss and sub separately
 * (model/generator.go requestPrincipalGenerator.extendedPrincipal).
 */
function requestPrincipalMatcher(values: string[]): Predicate {
  const nonEmpty: StringPattern = { kind: 'nonEmpty' };
  const pairs = values.map((value) => {
    const idx = value.lastIndexOf('/');
    const found = idx >= 0;
    const iss = found ? value.slice(0, idx) : value;
    const sub = found ? value.slice(idx + 1) : '';
    let mi: StringPattern;
    let ms: StringPattern;
    if (value === '*') {
      mi = nonEmpty;
      ms = nonEmpty;
    } else if (value.startsWith('*')) {
      if (found) {
        mi = iss === '*' ? nonEmpty : { kind: 'suffix', value: iss.slice(1) };
        ms = { kind: 'exact', value: sub };
      } else {
        mi = nonEmpty;
        ms = { kind: 'suffix', value: value.slice(1) };
      }
    } else if (value.endsWith('*')) {
      if (found) {
        mi = { kind: 'exact', value: iss };
        ms = sub === '*' ? nonEmpty : { kind: 'prefix', value: sub.slice(0, -1) };
      } else {
        mi = { kind: 'prefix', value: value.slice(0, -1) };
        ms = nonEmpty;
      }
    } else {
      mi = { kind: 'exact', value: iss };
      ms = { kind: 'exact', value: sub };
    }
    return { iss: compileStringMatcher([mi]), sub: compileStringMatcher([ms]) };
  });
  return (ctx) => {
    const iss = issuer(ctx);
    if (iss === undefined) return false;
    const sub = subject(ctx);
    for (let i = 0; i < pairs.length; i++) if (pairs[i].iss(iss) && pairs[i].sub(sub)) return true;
    return false;
  };
}

/** A JWT claim as Envoy's metadata matcher sees it: a string, or any string of a list. */
function claimMatches(v: unknown, m: StringPredicate): boolean {
  if (typeof v === 'string') return m(v);
  if (Array.isArray(v)) {
    for (const el of v) if (typeof el === 'string' && m(el)) return true;
  }
  return false;
}

function claimAt(ctx: RequestContext, path: string[]): unknown {
  let v: unknown = claimsOf(ctx);
  for (const seg of path) {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
    if (!Object.hasOwn(v, seg)) return undefined;
    v = (v as Record<string, unknown>)[seg];
  }
  return v;
}

/** Header values as Envoy's header matchers see them; pseudo-headers map to the request line. */
function headerGetter(name: string): (ctx: RequestContext) => string | undefined {
  switch (name) {
    // Host and :authority are one value, normalized once (decide.ts): never the raw header.
    case ':authority':
    case 'host': return authorityOf;
    case ':method': return (ctx) => ctx.method;
    case ':path': return pathAndQuery;
    case ':scheme': return (ctx) => ctx.scheme;
    default: return (ctx) => headerValue(ctx.headers[name]);
  }
}

function valuesMatcher(c: IstioCondition, values: string[]): Predicate {
  switch (c.key) {
    case 'source.ip': {
      const m = compileIpMatcher(values).matcher;
      return (ctx) => m.has(ctx.remoteIp);
    }
    case 'remote.ip': {
      const m = compileIpMatcher(values).matcher;
      return (ctx) => m.has(ctx.clientIp);
    }
    case 'destination.ip': {
      const m = compileIpMatcher(values).matcher;
      return (ctx) => m.has(ctx.localIp);
    }
    case 'destination.port': {
      const ports = new Set(values.map(Number));
      return (ctx) => ports.has(ctx.port);
    }
    case 'connection.sni': {
      const m = stringMatcher(values);
      return (ctx) => m(ctx.tls?.sni);
    }
    case 'request.method': {
      const m = headerMatcher(values);
      return (ctx) => m(ctx.method);
    }
    case 'request.host': {
      // Case-insensitive, against the normalized authority (a port, when sent, is part of it).
      const m = headerMatcher(values, true);
      return (ctx) => m(authorityOf(ctx));
    }
    case 'request.path': {
      const templates = values.filter(containsPathTemplate).map(compilePathTemplate);
      const m = stringMatcher(values.filter((v) => !containsPathTemplate(v)));
      if (templates.length === 0) return (ctx) => m(ctx.path);
      return (ctx) => m(ctx.path) || anyMatches(templates, ctx.path);
    }
    case 'request.headers': {
      const get = headerGetter(c.header ?? '');
      const m = headerMatcher(values);
      return (ctx) => m(get(ctx));
    }
    case 'source.principal': {
      const m = principalMatcher(values);
      return (ctx) => m(ctx.identity.principal);
    }
    case 'source.namespace': {
      const m = namespaceMatcher(values);
      return (ctx) => m(ctx.identity.principal);
    }
    case 'source.serviceAccount': {
      const m = serviceAccountMatcher(values);
      return (ctx) => m(ctx.identity.principal);
    }
    case 'request.auth.principal':
      return requestPrincipalMatcher(values);
    case 'request.auth.audiences': {
      const m = stringMatcher(values);
      return (ctx) => claimMatches(ctx.identity.audiences ?? claimsOf(ctx)?.aud, m);
    }
    case 'request.auth.presenter': {
      const m = stringMatcher(values);
      return (ctx) => claimMatches(ctx.identity.presenter ?? claimsOf(ctx)?.azp, m);
    }
    case 'request.auth.claims': {
      const path = c.claim ?? [];
      const m = stringMatcher(values);
      return (ctx) => claimMatches(claimAt(ctx, path), m);
    }
    default:
      throw new Error(`istio.authorization: unknown attribute ${String((c as { key: unknown }).key)}`);
  }
}

function compileCondition(c: IstioCondition): Predicate {
  const pos = c.values.length > 0 ? valuesMatcher(c, c.values) : undefined;
  const neg = c.notValues.length > 0 ? valuesMatcher(c, c.notValues) : undefined;
  if (pos && neg) return (ctx) => pos(ctx) && !neg(ctx);
  if (pos) return pos;
  if (neg) return (ctx) => !neg(ctx);
  return always;
}

function compilePolicy(p: IstioPolicy, action: string, decision: TraceEntry['decision'], hop: string): CompiledPolicy {
  const note = p.degraded ? ` (policy partly invalid: ${p.degraded})` : '';
  return {
    rules: p.rules.map((r) => ({
      when: r.when.map(compileCondition),
      from: r.from === null ? null : r.from.map((e) => e.map(compileCondition)),
      to: r.to === null ? null : r.to.map((e) => e.map(compileCondition)),
    })),
    matched: p.rules.map((r) =>
      Object.freeze({
        filter: ISTIO_AUTHORIZATION,
        origin: p.origin,
        decision,
        reason: `${r.index < 0 ? 'invalid policy' : `rule ${r.index}`} matched (${action}) on ${hop}${note}`,
      }),
    ),
  };
}

function rbacDenied(): Reply {
  return gatewayReply('rbacDenied');
}

class IstioAuthorization {
  readonly #deny: CompiledPolicy[];
  readonly #allow: CompiledPolicy[] | null;
  readonly #audit: CompiledPolicy[];
  readonly #dryDeny: CompiledPolicy[];
  readonly #dryAllow: CompiledPolicy[] | null;
  readonly #custom: CompiledPolicy[];
  readonly #provider: ExtAuthzConfig | undefined;
  readonly #client: ExtAuthzClient | undefined;
  readonly #noAllowMatched: TraceEntry;
  readonly #noAllowPolicy: TraceEntry;
  readonly #dryAllowMissed: TraceEntry;
  readonly #hasDryRun: boolean;
  readonly #dryDenyOrigins: string[];
  readonly #dryAllowOrigins: string[];

  constructor(cfg: IstioAuthorizationConfig) {
    const hop = cfg.hop;
    this.#deny = cfg.deny.map((p) => compilePolicy(p, 'DENY', 'deny', hop));
    this.#allow = cfg.allow === null ? null : cfg.allow.map((p) => compilePolicy(p, 'ALLOW', 'allow', hop));
    this.#audit = cfg.audit.map((p) => compilePolicy(p, 'AUDIT', 'audit', hop));
    this.#dryDeny = cfg.dryRun.deny.map((p) => compilePolicy(p, 'DENY, dry-run: would deny', 'info', hop));
    this.#dryAllow = cfg.dryRun.allow === null ? null : cfg.dryRun.allow.map((p) => compilePolicy(p, 'ALLOW, dry-run: would allow', 'info', hop));
    this.#dryDenyOrigins = cfg.dryRun.deny.map((p) => p.origin);
    this.#dryAllowOrigins = (cfg.dryRun.allow ?? []).map((p) => p.origin);
    this.#hasDryRun = this.#dryDeny.length > 0 || this.#dryAllow !== null;
    this.#custom = cfg.custom ? cfg.custom.policies.map((p) => compilePolicy(p, 'CUSTOM', 'info', hop)) : [];
    this.#provider = cfg.custom?.provider;
    const allowOrigins = (cfg.allow ?? []).map((p) => p.origin).join(', ');
    this.#noAllowMatched = Object.freeze({
      filter: ISTIO_AUTHORIZATION,
      origin: allowOrigins || undefined,
      decision: 'deny',
      reason: cfg.allow !== null && cfg.allow.every((p) => p.rules.length === 0)
        ? `ALLOW policies on ${hop} allow nothing`
        : `no ALLOW policy matched on ${hop}`,
    });
    this.#noAllowPolicy = Object.freeze({ filter: ISTIO_AUTHORIZATION, decision: 'allow', reason: `no ALLOW policy on ${hop}; not denied` });
    this.#dryAllowMissed = Object.freeze({
      filter: ISTIO_AUTHORIZATION,
      origin: (cfg.dryRun.allow ?? []).map((p) => p.origin).join(', ') || undefined,
      decision: 'info',
      reason: `dry-run: no ALLOW policy would match on ${hop}; would deny`,
    });
    // Connect last: nothing above may throw after a connection is held.
    this.#client = this.#provider ? createExtAuthzClient(this.#provider) : undefined;
  }

  close(): void {
    this.#client?.close();
  }

  onRequest(ctx: RequestContext): Decision | Promise<Decision> {
    if (this.#client) {
      for (const p of this.#custom) {
        const i = firstMatch(p, ctx);
        if (i >= 0) return this.#external(ctx, p.matched[i]);
      }
    }
    return this.#enforce(ctx);
  }

  async #external(ctx: RequestContext, matched: TraceEntry): Promise<Decision> {
    const provider = this.#provider!;
    const result = await this.#client!.check(ctx);
    const decision = applyExtAuthzResult(ctx, provider, result);
    const base = `${matched.reason}; external authorizer ${provider.name}`;
    if (result.kind === 'deny') {
      ctx.record({ filter: ISTIO_AUTHORIZATION, origin: matched.origin, decision: 'deny', reason: `${base} denied (${result.status})` });
      return decision;
    }
    if (result.kind === 'error') {
      ctx.record({
        filter: ISTIO_AUTHORIZATION, origin: matched.origin, decision: 'error',
        reason: `${base}: ${result.reason}; ${provider.failOpen ? 'failOpen, continuing' : `answering ${provider.statusOnError}`}`,
      });
      if (!provider.failOpen) return decision;
    } else {
      ctx.record({ filter: ISTIO_AUTHORIZATION, origin: matched.origin, decision: 'allow', reason: `${base} allowed` });
    }
    return this.#enforce(ctx);
  }

  /** AUDIT, dry-run, DENY, ALLOW: synchronous. */
  #enforce(ctx: RequestContext): Decision {
    for (const p of this.#audit) {
      const i = firstMatch(p, ctx);
      if (i >= 0) ctx.record(p.matched[i]);
    }
    if (this.#hasDryRun) this.#dryRun(ctx);
    for (const p of this.#deny) {
      const i = firstMatch(p, ctx);
      if (i >= 0) {
        ctx.record(p.matched[i]);
        return rbacDenied();
      }
    }
    const allow = this.#allow;
    if (allow === null) {
      ctx.record(this.#noAllowPolicy);
      return undefined;
    }
    for (const p of allow) {
      const i = firstMatch(p, ctx);
      if (i >= 0) {
        ctx.record(p.matched[i]);
        return undefined;
      }
    }
    ctx.record(this.#noAllowMatched);
    return rbacDenied();
  }

  /** Shadow evaluation of the dry-run policies: recorded (trace, log, metrics), never enforced. */
  #dryRun(ctx: RequestContext): void {
    for (let k = 0; k < this.#dryDeny.length; k++) {
      const p = this.#dryDeny[k];
      const i = firstMatch(p, ctx);
      if (i >= 0) ctx.record(p.matched[i]);
      recordDryRun(ctx, this.#dryDenyOrigins[k], i >= 0 ? 'deny' : 'allow');
    }
    const dryAllow = this.#dryAllow;
    if (dryAllow === null) return;
    for (let k = 0; k < dryAllow.length; k++) {
      const i = firstMatch(dryAllow[k], ctx);
      if (i >= 0) {
        ctx.record(dryAllow[k].matched[i]);
        recordDryRun(ctx, this.#dryAllowOrigins[k], 'allow');
        return;
      }
    }
    ctx.record(this.#dryAllowMissed);
    for (const origin of this.#dryAllowOrigins) recordDryRun(ctx, origin, 'deny');
  }
}

export const istioAuthorizationFilter: FilterModuleFor<'istio.authorization'> = {
  type: ISTIO_AUTHORIZATION,
  compile(config: IstioAuthorizationConfig): CompiledFilter {
    const f = new IstioAuthorization(config);
    const body = config.custom?.provider.includeBody;
    return {
      type: ISTIO_AUTHORIZATION,
      onRequest: (ctx) => f.onRequest(ctx),
      close: () => f.close(),
      // includeRequestBodyInCheck: the chain reads the body before this hop decides.
      ...(body ? { needsBody: { maxBytes: body.maxBytes, allowPartial: body.allowPartial } } : {}),
    };
  },
};

export default istioAuthorizationFilter;
