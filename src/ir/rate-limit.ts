// IR of BackendTrafficPolicy rate limits (filters localRateLimit and
// globalRateLimit): plain data, patterns as strings.
import type { RateLimitUnit } from '../state/windows.ts';

export type IRRateLimitSelector =
  | { kind: 'header'; name: string; type: 'Exact' | 'RegularExpression' | 'Distinct'; value?: string; invert: boolean }
  /** Exact: the block is one bucket; Distinct: every address in it has its own. */
  | { kind: 'sourceCIDR'; cidr: string; distinct: boolean }
  /** ORed: one of `values`, or (when `except` is not empty) any method not in `except`. */
  | { kind: 'methods'; values: string[]; except: string[] }
  | { kind: 'path'; type: 'Exact' | 'PathPrefix' | 'RegularExpression'; value: string; invert: boolean }
  /**
   * Portcullis extension (Kong's limit_by: consumer): the identity an
   * authenticator established (API key / basic-auth client id, else the JWT
   * "<iss>/<sub>"), never a header. Distinct: one bucket per consumer; with
   * values: only these consumers.
   */
  | { kind: 'consumer'; distinct: boolean; values: string[] };

export interface IRRateLimitRule {
  /** Index in the policy's rules (part of the counter's identity). */
  index: number;
  /** All must hold for the rule to apply; none = every request. */
  selectors: IRRateLimitSelector[];
  requests: number;
  unit: RateLimitUnit;
  /** Charged when the request is decided (0 = only check). */
  requestCost: number;
  /** Charged after the answer (counts against later requests). */
  responseCost: number;
  /** One bucket for every route the policy covers, instead of one per route. */
  shared: boolean;
  /** Portcullis extension: queue over-limit requests instead of refusing them at once. */
  throttle?: { maxQueue: number; maxWaitMs: number };
}

export interface IRRateLimit {
  /** "BackendTrafficPolicy/ns/name": the counters' identity. */
  policy: string;
  /** The route rule this copy serves (counts per route unless a rule is shared). */
  route: string;
  rules: IRRateLimitRule[];
  headers: {
    /** IETF RateLimit-Limit / -Remaining / -Reset. */
    ietf: boolean;
    /** Kong's X-RateLimit-Limit-<Window> / X-RateLimit-Remaining-<Window>. */
    kong: boolean;
    retryAfter: boolean;
  };
}
