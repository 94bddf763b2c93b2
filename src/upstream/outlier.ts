// healthCheck.passive (Envoy's outlier detection) as an upstream decorator,
// innermost, so that it sees every attempt (a retried 503 counts against the
// replica that gave it): each attempt's status, or its local-origin failure
// (no connection, reset before an answer, timeout), is reported to the route
// backend's HealthState (src/state/health.ts), which ejects the replica when
// a counter reaches its threshold; the balancer leaves it out until its
// ejection time is over.
import type { Dispatcher } from 'undici';
import type { IRPassiveHealth } from '../ir/traffic.ts';
import { healthState, type HealthState } from '../state/health.ts';
import type { Member } from './cluster.ts';
import { UpstreamRefused, type UpstreamDecoratorBuilder, type UpstreamRequest } from './decorators.ts';
import { CONNECT_CODES, PerTryTimeout, RESET_CODES, errorCode } from './retry.ts';

/** Errors that are the replica's (local origin); the client leaving or a retry abandoning the attempt are not. */
function localOrigin(err: Error): boolean {
  if (err instanceof PerTryTimeout || err.name === 'RouteTimeout' || err.message === 'route timeout') return true;
  const code = errorCode(err);
  return code !== undefined && (CONNECT_CODES.has(code) || RESET_CODES.has(code) || code === 'UND_ERR_HEADERS_TIMEOUT');
}

class Outcome implements Dispatcher.DispatchHandler {
  #down: Dispatcher.DispatchHandler;
  #req: UpstreamRequest;
  #state: HealthState;
  #policy: IRPassiveHealth;
  member: Member | undefined;
  #reported = false;

  constructor(down: Dispatcher.DispatchHandler, req: UpstreamRequest, state: HealthState, policy: IRPassiveHealth) {
    this.#down = down;
    this.#req = req;
    this.#state = state;
    this.#policy = policy;
  }

  #record(): ReturnType<HealthState['get']> {
    if (this.#reported) return undefined;
    this.#reported = true;
    const m = this.member ?? this.#req.attempt.member;
    return m ? this.#state.get(m.address) : undefined;
  }

  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    this.member ??= this.#req.attempt.member;
    this.#down.onRequestStart?.(c, context);
  }
  onRequestUpgrade(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[]>, socket: import('node:stream').Duplex): void {
    this.#down.onRequestUpgrade?.(c, status, headers, socket);
  }
  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>, msg?: string): void {
    if (status >= 200) {
      const r = this.#record();
      if (r) this.#state.reportStatus(r, status, this.#policy);
    }
    this.#down.onResponseStart?.(c, status, headers as Record<string, string | string[]>, msg);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    this.#down.onResponseData?.(c, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: Record<string, string | string[]>): void {
    this.#down.onResponseEnd?.(c, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, err: Error): void {
    if (!(err instanceof UpstreamRefused) && localOrigin(err)) {
      const r = this.#record();
      if (r) this.#state.reportLocalFailure(r, this.#policy);
    }
    this.#down.onResponseError?.(c, err);
  }
}

export const outlierDetection: UpstreamDecoratorBuilder = (route, ref) => {
  const t = route.traffic;
  const passive = t?.healthCheck?.passive;
  if (!passive || !t?.policy) return undefined;
  const state = healthState(`${t.policy}|${route.id}|${ref.backend}`);
  return {
    name: 'outlierDetection',
    intercept: (next) => (req, handler) => {
      const h = new Outcome(handler, req, state, passive);
      next(req, h);
      h.member ??= req.attempt.member;
    },
  };
};
