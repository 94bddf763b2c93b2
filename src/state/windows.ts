// Fixed-window counters: the rate-limit state of one process.
//
// A limit of N per unit is a counter per (key, window), where the window is
// floor(now / unit): every window starts with the whole budget, as Envoy's
// local rate limit refills its token bucket by `requests` every `unit` and as
// the Envoy ratelimit service counts in Redis. Keys carry the policy identity
// (see docs/state.md), never the snapshot, so a reload keeps every count.
//
// Memory is bounded: a full table first drops windows that are over, then
// the oldest keys (a dropped key starts again with a whole budget; the
// metric portcullis_ratelimit_evictions_total says when that happens).

/** Remaining budget after a take, or DENIED. */
export const DENIED = -1;
/** The shared store failed and the policy fails closed (the request gets 500, as Envoy's failure_mode_deny). */
export const STORE_FAILED = -2;

/**
 * Where counts live. `take` returns the remaining budget after charging
 * `cost`, or DENIED (nothing charged); synchronous when the answer is local.
 */
export interface WindowStore {
  take(key: string, limit: number, windowMs: number, cost: number): number | Promise<number>;
  /** Charge without deciding (a response cost, charged after the answer). */
  add(key: string, limit: number, windowMs: number, cost: number): void;
}

interface Slot {
  window: number;
  used: number;
  /** When the window ends (ms since the epoch): stale after that. */
  ends: number;
}

export const DEFAULT_MAX_KEYS = 100_000;

export class LocalWindows implements WindowStore {
  readonly #slots = new Map<string, Slot>();
  readonly #maxKeys: number;
  evictions = 0;

  constructor(maxKeys = DEFAULT_MAX_KEYS) {
    this.#maxKeys = maxKeys;
  }

  get size(): number {
    return this.#slots.size;
  }

  take(key: string, limit: number, windowMs: number, cost: number): number {
    const s = this.#slot(key, windowMs, Math.floor(Date.now() / windowMs));
    if (s.used + cost > limit) return DENIED;
    s.used += cost;
    return limit - s.used;
  }

  add(key: string, _limit: number, windowMs: number, cost: number): void {
    this.#slot(key, windowMs, Math.floor(Date.now() / windowMs)).used += cost;
  }

  /**
   * Hand out up to `want` of what is left in `window` (the lease coordinator's
   * side: workers charge leased tokens locally). A request for a window that
   * is already over gets nothing.
   */
  grant(key: string, limit: number, windowMs: number, window: number, want: number): { granted: number; remaining: number } {
    const current = Math.floor(Date.now() / windowMs);
    if (window < current) return { granted: 0, remaining: 0 };
    const s = this.#slot(key, windowMs, window);
    if (s.window !== window) return { granted: 0, remaining: 0 };
    const granted = Math.max(0, Math.min(want, limit - s.used));
    s.used += granted;
    return { granted, remaining: limit - s.used };
  }

  #slot(key: string, windowMs: number, window: number): Slot {
    let s = this.#slots.get(key);
    if (s === undefined) {
      if (this.#slots.size >= this.#maxKeys) this.#makeRoom();
      s = { window, used: 0, ends: (window + 1) * windowMs };
      this.#slots.set(key, s);
    } else if (s.window < window) {
      s.window = window;
      s.used = 0;
      s.ends = (window + 1) * windowMs;
    }
    return s;
  }

  #makeRoom(): void {
    const now = Date.now();
    for (const [k, s] of this.#slots) if (s.ends <= now) this.#slots.delete(k);
    // Still full of live windows: drop the oldest tenth (insertion order), so
    // the next inserts do not each scan the table again.
    if (this.#slots.size >= this.#maxKeys * 0.9) {
      let drop = Math.ceil(this.#maxKeys / 10);
      for (const k of this.#slots.keys()) {
        if (drop-- <= 0) break;
        this.#slots.delete(k);
        this.evictions++;
      }
    }
  }
}

export const UNIT_MS = {
  Second: 1000,
  Minute: 60_000,
  Hour: 3_600_000,
  Day: 86_400_000,
  // As the Envoy ratelimit service counts them: 30 and 365 days.
  Month: 30 * 86_400_000,
  Year: 365 * 86_400_000,
} as const;

export type RateLimitUnit = keyof typeof UNIT_MS;
