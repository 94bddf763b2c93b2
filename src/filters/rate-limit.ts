// BackendTrafficPolicy rate limits: localRateLimit (counted in this instance,
// one budget across its workers) and globalRateLimit (counted in Redis, one
// budget across instances). Envoy Gateway's semantics:
// - every rule whose clientSelectors all hold is charged; the request is
//   refused (429) when any of them is over its limit;
// - a request that matches no rule is not limited (a rule without selectors
//   matches every request);
// - counts are per route rule, even when the policy targets a Gateway, unless
//   the rule is `shared`;
// - a Distinct header / sourceCIDR (and Portcullis's consumer selector) gives
//   every value its own bucket.
// Everything is compiled once per snapshot; the counters live in the state
// registry (src/state), so a reload keeps them.
import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import type { CompiledFilter, Decision, FilterModuleFor, Reply } from './types.ts';
import type { RequestContext } from '../core/request.ts';
import { gatewayReply, rateLimited } from '../core/replies.ts';
import type { IRRateLimit, IRRateLimitRule, IRRateLimitSelector } from '../ir/rate-limit.ts';
import { compileIpMatcher } from '../authz/ip-match.ts';
import { compileRegex } from '../match/regex.ts';
import { DENIED, STORE_FAILED, UNIT_MS, type WindowStore } from '../state/windows.ts';
import { globalCounters, localCounters } from '../state/registry.ts';
import { Throttle } from './throttle.ts';

type Predicate = (ctx: RequestContext) => boolean;
/** A part of a distinct bucket's key, or undefined when the request does not carry it (the rule does not apply). */
type KeyPart = (ctx: RequestContext) => string | undefined;

interface CompiledRule {
  ir: IRRateLimitRule;
  windowMs: number;
  /** The counter's identity without its distinct parts. */
  baseKey: string;
  tests: Predicate[];
  parts: KeyPart[];
  kongLimit: string;
  kongRemaining: string;
  throttle: Throttle | undefined;
}

/** Distinct values longer than this are hashed, so that a key stays small whatever a client sends. */
const MAX_PART = 128;

function headerValue(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v.join(',');
}

function part(v: string): string {
  return v.length <= MAX_PART ? v : '#' + createHash('sha256').update(v).digest('base64url');
}

function compileSelector(s: IRRateLimitSelector, tests: Predicate[], parts: KeyPart[]): void {
  switch (s.kind) {
    case 'header': {
      const name = s.name;
      if (s.type === 'Distinct') {
        parts.push((ctx) => {
          const v = headerValue(ctx.headers, name);
          return v === undefined ? undefined : part(v);
        });
        return;
      }
      const want = s.value ?? '';
      const re = s.type === 'RegularExpression' ? compileRegex(want) : undefined;
      const invert = s.invert;
      tests.push((ctx) => {
        const v = headerValue(ctx.headers, name);
        const hit = v !== undefined && (re ? re.matches(v) : v === want);
        return invert ? !hit : hit;
      });
      return;
    }
    case 'sourceCIDR': {
      const { matcher } = compileIpMatcher([s.cidr]);
      tests.push((ctx) => matcher.has(ctx.clientIp));
      if (s.distinct) parts.push((ctx) => ctx.clientIp);
      return;
    }
    case 'methods': {
      const set = new Set(s.values);
      const except = s.except.length > 0 ? new Set(s.except) : undefined;
      tests.push((ctx) => set.has(ctx.method) || (except !== undefined && !except.has(ctx.method)));
      return;
    }
    case 'path': {
      const { type, value, invert } = s;
      let hit: (p: string) => boolean;
      if (type === 'Exact') hit = (p) => p === value;
      else if (type === 'RegularExpression') {
        const re = compileRegex(value);
        hit = (p) => re.matches(p);
      } else {
        const base = value.length > 1 && value.endsWith('/') ? value.slice(0, -1) : value;
        hit = base === '/' ? () => true : (p) => p === base || (p.startsWith(base) && p.charCodeAt(base.length) === 47 /* / */);
      }
      tests.push((ctx) => hit(ctx.path) !== invert);
      return;
    }
    case 'consumer': {
      const only = s.values.length > 0 ? new Set(s.values) : undefined;
      const consumerOf = (ctx: RequestContext) => ctx.identity.consumer ?? ctx.identity.requestPrincipal;
      tests.push((ctx) => {
        const c = consumerOf(ctx);
        return c !== undefined && (only === undefined || only.has(c));
      });
      if (s.distinct) parts.push((ctx) => part(consumerOf(ctx)!));
      return;
    }
  }
}

function compileRule(cfg: IRRateLimit, r: IRRateLimitRule, scope: string): CompiledRule {
  const tests: Predicate[] = [];
  const parts: KeyPart[] = [];
  for (const s of r.selectors) compileSelector(s, tests, parts);
  const unit = r.unit.toLowerCase();
  return {
    ir: r,
    windowMs: UNIT_MS[r.unit],
    baseKey: `${scope}|${cfg.policy}|${r.index}|${r.shared ? '*' : cfg.route}|${r.requests}/${r.unit}`,
    tests,
    parts,
    kongLimit: `x-ratelimit-limit-${unit}`,
    kongRemaining: `x-ratelimit-remaining-${unit}`,
    throttle: r.throttle ? new Throttle(r.throttle.maxQueue, r.throttle.maxWaitMs) : undefined,
  };
}

/** The counter key of a request under a rule, or undefined when the rule does not apply. */
function keyOf(r: CompiledRule, ctx: RequestContext): string | undefined {
  const tests = r.tests;
  for (let i = 0; i < tests.length; i++) if (!tests[i](ctx)) return undefined;
  const parts = r.parts;
  if (parts.length === 0) return r.baseKey;
  let key = r.baseKey;
  for (let i = 0; i < parts.length; i++) {
    const p = parts[i](ctx);
    if (p === undefined) return undefined;
    key += '|' + p;
  }
  return key;
}

/** What the charged rules said: the tightest one decides the headers. */
interface Outcome {
  denied: CompiledRule | undefined;
  failed: boolean;
  tightest: CompiledRule | undefined;
  remaining: number;
  /** Per matched rule (Kong's per-window headers). */
  each: { rule: CompiledRule; remaining: number }[] | undefined;
}

const FAILED_REPLY: Reply = gatewayReply('rateLimitUnavailable');

function makeModule<T extends 'localRateLimit' | 'globalRateLimit'>(type: T): FilterModuleFor<T> {
  return {
    type,
    compile(cfg, cc): CompiledFilter {
      let store: WindowStore;
      if (type === 'localRateLimit') store = localCounters();
      else {
        const g = globalCounters();
        if (!g) throw new Error(`${cc.origin}: rateLimit.type Global counts in Redis; start Portcullis with --redis URL (see docs/state.md)`);
        store = g;
      }
      const rules = cfg.rules.map((r) => compileRule(cfg, r, type === 'localRateLimit' ? 'l' : 'g'));
      // ClientTrafficPolicy headers.disableRateLimitHeaders on the listener silences both header families (Retry-After stays).
      const silenced = cc.listener.clientHeaders?.noRateLimitHeaders === true;
      const ietf = cfg.headers.ietf && !silenced;
      const kong = cfg.headers.kong && !silenced;
      const retryAfter = cfg.headers.retryAfter;
      const wantEach = kong;
      const responseCost = rules.some((r) => r.ir.responseCost > 0);
      const scratchKey = `rl:${type}`;

      const record = (o: Outcome, rule: CompiledRule, remaining: number) => {
        if (remaining === STORE_FAILED) o.failed = true;
        else if (remaining === DENIED) {
          o.denied ??= rule;
          remaining = 0;
        }
        if (remaining >= 0 && (o.tightest === undefined || remaining < o.remaining)) {
          o.tightest = rule;
          o.remaining = remaining;
        }
        if (wantEach) (o.each ??= []).push({ rule, remaining: Math.max(0, remaining) });
      };

      const finish = (ctx: RequestContext, o: Outcome): Decision => {
        if (o.failed && o.denied === undefined) {
          ctx.record({ filter: type, origin: cc.origin, decision: 'deny', reason: 'rate limit store unavailable (fail closed)' });
          return FAILED_REPLY;
        }
        const t = o.denied ?? o.tightest!;
        const resetS = Math.max(1, Math.ceil((t.windowMs - (Date.now() % t.windowMs)) / 1000));
        const headers: Record<string, string> = {};
        if (ietf) {
          headers['ratelimit-limit'] = String(t.ir.requests);
          headers['ratelimit-remaining'] = String(o.denied ? 0 : o.remaining);
          headers['ratelimit-reset'] = String(resetS);
        }
        if (kong && o.each) {
          for (const e of o.each) {
            const prev = headers[e.rule.kongRemaining];
            if (prev === undefined || Number(prev) > e.remaining) {
              headers[e.rule.kongLimit] = String(e.rule.ir.requests);
              headers[e.rule.kongRemaining] = String(e.remaining);
            }
          }
        }
        if (o.denied) {
          // As Envoy marks its own 429s (clients and tests of Envoy Gateway look for it).
          headers['x-envoy-ratelimited'] = 'true';
          if (retryAfter) headers['retry-after'] = String(resetS);
          ctx.record({ filter: type, origin: cc.origin, decision: 'deny', reason: `over ${o.denied.ir.requests} per ${o.denied.ir.unit} (rule ${o.denied.ir.index})` });
          return rateLimited(type === 'localRateLimit', headers);
        }
        for (const name in headers) ctx.addResponseHeader(name, headers[name]);
        return undefined;
      };

      const onRequest = (ctx: RequestContext): Decision | Promise<Decision> => {
        let o: Outcome | undefined;
        let pending: Promise<void>[] | undefined;
        let charged: string[] | undefined;
        for (let i = 0; i < rules.length; i++) {
          const rule = rules[i];
          const key = keyOf(rule, ctx);
          if (key === undefined) continue;
          o ??= { denied: undefined, failed: false, tightest: undefined, remaining: 0, each: undefined };
          const out = o;
          if (responseCost && rule.ir.responseCost > 0) (charged ??= []).push(key, String(i));
          const r = store.take(key, rule.ir.requests, rule.windowMs, rule.ir.requestCost);
          if (typeof r === 'number') {
            if (r === DENIED && rule.throttle) (pending ??= []).push(rule.throttle.wait(store, key, rule.ir.requests, rule.windowMs, rule.ir.requestCost).then((n) => record(out, rule, n)));
            else record(out, rule, r);
          } else {
            (pending ??= []).push(r.then((n) => (n === DENIED && rule.throttle ? rule.throttle.wait(store, key, rule.ir.requests, rule.windowMs, rule.ir.requestCost) : n)).then((n) => record(out, rule, n)));
          }
        }
        if (o === undefined) return undefined;
        if (charged) (ctx.scratch ??= new Map()).set(scratchKey, charged);
        const out = o;
        if (pending) return Promise.all(pending).then(() => finish(ctx, out));
        return finish(ctx, out);
      };

      const compiled: CompiledFilter = { type, onRequest };
      if (responseCost) {
        compiled.onResponse = (ctx) => {
          const charged = ctx.scratch?.get(scratchKey) as string[] | undefined;
          if (!charged) return;
          ctx.scratch!.delete(scratchKey);
          for (let i = 0; i < charged.length; i += 2) {
            const rule = rules[Number(charged[i + 1])];
            store.add(charged[i], rule.ir.requests, rule.windowMs, rule.ir.responseCost);
          }
        };
      }
      return compiled;
    },
  };
}

export const localRateLimit = makeModule('localRateLimit');
export const globalRateLimit = makeModule('globalRateLimit');
