// One local rate-limit budget per instance with --workers N: the primary
// holds the counters (LocalWindows) and workers lease batches of tokens from
// it over the cluster IPC channel, then charge requests against their lease
// synchronously. See docs/state.md for why (and what it costs).
//
// - A worker asks for more before its lease runs out (at half of the last
//   grant), so a busy worker rarely waits; when it must, a request waits for
//   one IPC round trip.
// - The primary never grants more than the window has left, so the instance
//   never admits more than the budget. Tokens leased and unused when a window
//   ends are lost: at most N × batch per window, and batch is at most
//   limit / (50 × N), so the loss is under 2 % of the budget even when a
//   worker stops receiving traffic right after a grant.
// - The primary not answering within LEASE_TIMEOUT_MS (it is stalled, or
//   gone) must not stall traffic either: the worker then counts alone,
//   against its fair share (limit / N) of the window, so the instance admits
//   at most the budget plus what was granted before the stall.
import type { Worker } from 'node:cluster';
import { DENIED, LocalWindows, type WindowStore } from './windows.ts';

export const LEASE_TIMEOUT_MS = 2000;
const MAX_BATCH = 256;

/** Worker → primary. */
export interface LeaseRequest {
  type: 'portcullis.lease';
  id: number;
  key: string;
  limit: number;
  windowMs: number;
  window: number;
  /** At least this many (the cost of the request waiting), when there are. */
  need: number;
}

/** Primary → worker. */
export interface LeaseGrant {
  type: 'portcullis.granted';
  id: number;
  granted: number;
  remaining: number;
  /** The coordinator's batch size for this limit (a worker asks ahead only when it is above 1). */
  batch: number;
  /** The coordinator could not decide (Redis down): the requests waiting get `unanswered` at once. */
  failed?: boolean;
}

/** How many tokens a worker gets per lease, for a budget shared by `workers`. */
export function batchSize(limit: number, workers: number): number {
  return Math.max(1, Math.min(MAX_BATCH, Math.floor(limit / (50 * Math.max(1, workers)))));
}

/** The primary's side: one central table, answering every worker's lease requests. */
export class LeaseCoordinator {
  readonly windows = new LocalWindows();
  readonly #workers: () => number;

  constructor(workers: () => number) {
    this.#workers = workers;
  }

  /** Answer lease requests from this worker (call once per forked worker). */
  serve(w: Worker): void {
    w.on('message', (m: LeaseRequest) => {
      if (m === null || typeof m !== 'object' || m.type !== 'portcullis.lease') return;
      const want = Math.max(m.need, batchSize(m.limit, this.#workers()));
      const g = this.windows.grant(m.key, m.limit, m.windowMs, m.window, want);
      const reply: LeaseGrant = { type: 'portcullis.granted', id: m.id, granted: g.granted, remaining: g.remaining, batch: batchSize(m.limit, this.#workers()) };
      if (w.isConnected()) w.send(reply);
    });
  }
}

interface Lease {
  window: number;
  tokens: number;
  /** What the primary had left after the last grant (for RateLimit-Remaining). */
  central: number;
  /** The primary said the window is spent. */
  exhausted: boolean;
  lastGrant: number;
  batch: number;
  pending: Promise<boolean> | null;
  /** Requests waiting for the pending lease. */
  queued: number;
}

type Send = (m: LeaseRequest) => void;
/** What a request gets when the coordinator does not answer in time. */
type Unanswered = (key: string, limit: number, windowMs: number, cost: number) => number;

export interface LeasedWindowsOptions {
  send: Send;
  /** How long a request waits for a grant (default LEASE_TIMEOUT_MS). */
  timeoutMs?: number;
  /** Default: count in this process alone, against limit / workers. */
  unanswered?: Unanswered;
  /** Workers sharing the budget (for the default `unanswered`). */
  workers?: number;
}

/** A worker's side: leased tokens per key, refilled from the primary. */
export class LeasedWindows implements WindowStore {
  readonly #leases = new Map<string, Lease>();
  readonly #waiting = new Map<number, (g: LeaseGrant | undefined) => void>();
  readonly #send: Send;
  readonly #timeoutMs: number;
  readonly #unanswered: Unanswered;
  #nextId = 1;
  timeouts = 0;

  constructor(opts: LeasedWindowsOptions) {
    this.#send = opts.send;
    this.#timeoutMs = opts.timeoutMs ?? LEASE_TIMEOUT_MS;
    if (opts.unanswered) this.#unanswered = opts.unanswered;
    else {
      // The primary did not answer: count here alone, against this worker's share.
      const fallback = new LocalWindows();
      const workers = Math.max(1, opts.workers ?? 1);
      this.#unanswered = (key, limit, windowMs, cost) => fallback.take(key, Math.floor(limit / workers), windowMs, cost);
    }
  }

  /** A grant arrived (from the primary over IPC, or from Redis); `failed` = the coordinator could not answer. */
  deliver(m: unknown): void {
    const g = m as LeaseGrant;
    if (g === null || typeof g !== 'object' || g.type !== 'portcullis.granted') return;
    const done = this.#waiting.get(g.id);
    if (done) {
      this.#waiting.delete(g.id);
      done(g.failed ? undefined : g);
    }
  }

  take(key: string, limit: number, windowMs: number, cost: number): number | Promise<number> {
    const window = Math.floor(Date.now() / windowMs);
    let l = this.#leases.get(key);
    if (l === undefined) {
      l = { window, tokens: 0, central: limit, exhausted: false, lastGrant: 0, batch: 1, pending: null, queued: 0 };
      this.#leases.set(key, l);
    } else if (l.window !== window) {
      l.window = window;
      l.tokens = 0;
      l.central = limit;
      l.exhausted = false;
      l.lastGrant = 0;
    }
    if (l.tokens >= cost) {
      l.tokens -= cost;
      // Ask ahead only for batches: a single reserved token left unused would be lost to the others.
      if (!l.exhausted && l.pending === null && l.batch > 1 && l.tokens * 2 < l.lastGrant) void this.#refill(key, l, limit, windowMs, 0);
      return l.central + l.tokens;
    }
    if (l.exhausted) return DENIED;
    const lease = l;
    // Everyone waiting asks together: the next lease covers them all (or what is left).
    lease.queued++;
    const p = lease.pending ?? this.#refill(key, lease, limit, windowMs, cost * lease.queued);
    return p.then((answered) => {
      lease.queued--;
      if (!answered) return this.#unanswered(key, limit, windowMs, cost);
      return this.take(key, limit, windowMs, cost);
    });
  }

  add(key: string, limit: number, windowMs: number, cost: number): void {
    const r = this.take(key, limit, windowMs, cost);
    if (typeof r !== 'number') r.catch(() => {});
  }

  #refill(key: string, l: Lease, limit: number, windowMs: number, need: number): Promise<boolean> {
    const id = this.#nextId++;
    const window = l.window;
    let resolve!: (answered: boolean) => void;
    const p = new Promise<boolean>((r) => (resolve = r));
    l.pending = p;
    const timer = setTimeout(() => {
      this.#waiting.delete(id);
      this.timeouts++;
      finish(undefined);
    }, this.#timeoutMs);
    timer.unref();
    const finish = (g: LeaseGrant | undefined) => {
      clearTimeout(timer);
      if (l.pending === p) l.pending = null;
      if (g !== undefined && l.window === window) {
        l.tokens += g.granted;
        l.central = g.remaining;
        l.lastGrant = g.granted;
        l.batch = g.batch;
        if (g.remaining <= 0) l.exhausted = true;
      }
      resolve(g !== undefined);
    };
    this.#waiting.set(id, finish);
    try {
      // A slow primary is covered by the timer; a closed channel throws (or the send is lost and the timer fires).
      this.#send({ type: 'portcullis.lease', id, key, limit, windowMs, window, need });
    } catch {
      this.#waiting.delete(id);
      finish(undefined);
    }
    return p;
  }
}
