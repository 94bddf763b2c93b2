// BackendTrafficPolicy circuitBreaker as an upstream decorator: over the
// threshold a request is refused at once with 503 and x-envoy-overloaded
// (Envoy's overflow answer), counted as upstream error kind "overflow".
//
// Envoy's thresholds are per cluster (Envoy Gateway makes one per route
// rule), here per route rule and backend. maxParallelRequests bounds the
// requests in flight; maxConnections + maxPendingRequests bounds them too,
// since an HTTP/1.1 request in flight holds a connection and the ones past
// maxConnections are the pending ones. The counters live in the state
// registry, so a reload does not reset them.
import type { Dispatcher } from 'undici';
import type { Reply } from '../filters/types.ts';
import { breakerState, type BreakerState } from '../state/breakers.ts';
import { IDLE_CONTROLLER, UpstreamRefused, type UpstreamDecoratorBuilder } from './decorators.ts';

const OVERLOADED: Reply = { status: 503, headers: { 'x-envoy-overloaded': 'true' }, body: 'upstream connect error or disconnect/reset before headers. reset reason: overflow\n' };

/** Passes everything on and releases the slot exactly once, when the attempt is over. */
class Release implements Dispatcher.DispatchHandler {
  #down: Dispatcher.DispatchHandler;
  #state: BreakerState;
  #done = false;

  constructor(down: Dispatcher.DispatchHandler, state: BreakerState) {
    this.#down = down;
    this.#state = state;
  }

  #release(): void {
    if (this.#done) return;
    this.#done = true;
    this.#state.active--;
  }

  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    this.#down.onRequestStart?.(c, context);
  }
  onRequestUpgrade(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>, socket: import('node:stream').Duplex): void {
    this.#down.onRequestUpgrade?.(c, status, headers, socket);
  }
  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, msg?: string): void {
    this.#down.onResponseStart?.(c, status, headers as Record<string, string | string[]>, msg);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#down.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    this.#release();
    this.#down.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, err: Error): void {
    this.#release();
    this.#down.onResponseError?.(c, err);
  }
}

export const circuitBreaker: UpstreamDecoratorBuilder = (route, ref) => {
  const cb = route.traffic?.circuitBreaker;
  if (!cb) return undefined;
  const state = breakerState(`${cb.policy}|${route.id}|${ref.backend}`);
  const max = Math.min(cb.maxParallelRequests, cb.maxConnections + cb.maxPendingRequests);
  return {
    name: 'circuitBreaker',
    intercept: (next) => (req, handler) => {
      if (state.active >= max) {
        state.overflows++;
        handler.onResponseError?.(IDLE_CONTROLLER, new UpstreamRefused(OVERLOADED, 'overflow'));
        return;
      }
      state.active++;
      next(req, new Release(handler, state));
    },
  };
};
