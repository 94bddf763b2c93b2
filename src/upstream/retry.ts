// Retries (BackendTrafficPolicy `retry`, HTTPRoute rule `retry`) as an
// upstream decorator: another attempt, on another replica when there is
// one, after a jittered exponential backoff, when the answer's status or the
// failure is one the policy retries, the response has not started reaching
// the client, and the body can be sent again (within the replay bound).
// maxParallelRetries (circuitBreaker) bounds retries in flight per route
// rule and backend; past it the failure goes to the client as it is.
import type { Dispatcher } from 'undici';
import type { IRRetry } from '../ir/traffic.ts';
import { breakerState, type BreakerState } from '../state/breakers.ts';
import { countRetry } from './retry-counts.ts';
import { AttemptController, UpstreamRefused, type UpstreamDecoratorBuilder, type UpstreamDispatch, type UpstreamRequest } from './decorators.ts';

/** Body kept for another attempt (Envoy buffers up to its per-request buffer limit). */
export const RETRY_REPLAY_BYTES = 64 * 1024;

const ABANDONED = new Error('attempt abandoned for a retry');

/** One attempt ran past perRetry.timeout. */
export class PerTryTimeout extends Error {
  readonly code = 'UND_ERR_HEADERS_TIMEOUT';
  constructor() {
    super('per-try timeout');
  }
}

export const CONNECT_CODES = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
export const RESET_CODES = new Set(['ECONNRESET', 'UND_ERR_SOCKET', 'EPIPE', 'UND_ERR_CLOSED']);

export function errorCode(err: Error): string | undefined {
  return (err as { code?: string }).code ?? ((err as { cause?: { code?: string } }).cause?.code);
}

class RetryHandler implements Dispatcher.DispatchHandler {
  #req: UpstreamRequest;
  #down: Dispatcher.DispatchHandler;
  #next: UpstreamDispatch;
  #policy: IRRetry;
  #statuses: ReadonlySet<number>;
  #breaker: BreakerState | undefined;
  #maxParallel: number;
  #ctl = new AttemptController();
  #started = false;
  #attempt = 0;
  #live: Dispatcher.DispatchController | null = null;
  #abandoned = new Set<Dispatcher.DispatchController>();
  #timer: NodeJS.Timeout | undefined;
  #retrying = false;
  #backend: string;

  constructor(req: UpstreamRequest, down: Dispatcher.DispatchHandler, next: UpstreamDispatch, policy: IRRetry, statuses: ReadonlySet<number>, breaker: BreakerState | undefined, maxParallel: number, backend: string) {
    this.#backend = backend;
    this.#req = req;
    this.#down = down;
    this.#next = next;
    this.#policy = policy;
    this.#statuses = statuses;
    this.#breaker = breaker;
    this.#maxParallel = maxParallel;
  }

  start(): void {
    this.#next(this.#req, this);
  }

  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    this.#live = c;
    this.#ctl.live = c;
    if (this.#ctl.reason) return c.abort(this.#ctl.reason);
    if (!this.#started) {
      this.#started = true;
      this.#down.onRequestStart?.(this.#ctl, context);
    }
    if (this.#policy.perTryTimeoutMs > 0) {
      clearTimeout(this.#timer);
      this.#timer = setTimeout(() => {
        if (this.#live === c) c.abort(new PerTryTimeout());
      }, this.#policy.perTryTimeoutMs);
    }
  }

  onRequestUpgrade(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>, socket: import('node:stream').Duplex): void {
    this.#down.onRequestUpgrade?.(this.#ctl, status, headers, socket);
  }

  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, msg?: string): void {
    if (this.#abandoned.has(c)) return;
    if (status >= 200) clearTimeout(this.#timer);
    if (this.#statuses.has(status) && this.#retry(c)) return;
    this.#down.onResponseStart?.(this.#ctl, status, headers as Record<string, string | string[]>, msg);
  }

  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (!this.#abandoned.has(c)) this.#down.onResponseData?.(this.#ctl, chunk);
  }

  onResponseEnd(c: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    if (this.#abandoned.delete(c)) return;
    this.#finish();
    this.#down.onResponseEnd?.(this.#ctl, trailers);
  }

  onResponseError(c: Dispatcher.DispatchController | undefined, err: Error): void {
    if (c && this.#abandoned.delete(c)) return;
    clearTimeout(this.#timer);
    if (!(err instanceof UpstreamRefused) && this.#ctl.reason === null && this.#retriableError(err) && this.#retry(c)) return;
    this.#finish();
    this.#down.onResponseError?.(this.#ctl, err);
  }

  #retriableError(err: Error): boolean {
    if (err instanceof PerTryTimeout) return this.#policy.reset || this.#statuses.has(504);
    const code = errorCode(err);
    if (code !== undefined && CONNECT_CODES.has(code)) return this.#policy.connectFailure || this.#policy.reset;
    if (code !== undefined && RESET_CODES.has(code)) return this.#policy.reset;
    return false;
  }

  /** Start another attempt in place of `c`, if the policy and the body allow; false = answer as it is. */
  #retry(c: Dispatcher.DispatchController | undefined): boolean {
    if (this.#attempt >= this.#policy.numRetries || this.#ctl.reason !== null) return false;
    const req = this.#req;
    const hasBody = req.body !== undefined;
    const body = hasBody ? req.replay?.stream() : undefined;
    if (hasBody && !body) return false;
    const b = this.#breaker;
    if (b && !this.#retrying) {
      if (b.retries >= this.#maxParallel) return false;
      b.retries++;
      this.#retrying = true;
    }
    this.#attempt++;
    countRetry(this.#backend);
    // A connection that failed before the request started comes without a controller: nothing to abandon.
    if (c) {
      this.#abandoned.add(c);
      c.abort(ABANDONED);
    }
    const cap = Math.min(this.#policy.backoffMaxMs, this.#policy.backoffBaseMs * 2 ** (this.#attempt - 1));
    const wait = Math.floor(Math.random() * cap);
    const go = () => {
      // The client left (or the route timed out) while waiting: the next attempt aborts at once and reports it.
      this.#next({ ...req, body, member: undefined }, this);
    };
    if (wait > 0) setTimeout(go, wait);
    else go();
    return true;
  }

  #finish(): void {
    clearTimeout(this.#timer);
    if (this.#retrying && this.#breaker) {
      this.#breaker.retries--;
      this.#retrying = false;
    }
  }
}

export const retries: UpstreamDecoratorBuilder = (route, ref) => {
  const policy = route.traffic?.retry;
  if (!policy || policy.numRetries <= 0) return undefined;
  const statuses = new Set(policy.statuses);
  const cb = route.traffic?.circuitBreaker;
  const breaker = cb ? breakerState(`${cb.policy}|${route.id}|${ref.backend}`) : undefined;
  const maxParallel = cb?.maxParallelRetries ?? Infinity;
  const backend = ref.backend ?? '';
  return {
    name: 'retry',
    replayBytes: RETRY_REPLAY_BYTES,
    intercept: (next) => (req, handler) => new RetryHandler(req, handler, next, policy, statuses, breaker, maxParallel, backend).start(),
  };
};
