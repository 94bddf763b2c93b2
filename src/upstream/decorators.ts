// The upstream exchange as a chain of dispatch handlers (undici's interceptor
// pattern): a backend's `dispatch` is its decorators composed in front of the
// terminal dispatch that picks a replica and hands the request to its pool,
// and the handler at the end of the chain is the UpstreamExchange that writes
// the client's response. Retries, outlier detection and circuit breaking plug
// in here, without growing the exchange.
//
// How a decorator plugs in (compiled once per snapshot, never per request):
//
//   // src/upstream/<policy>.ts
//   export const retries: UpstreamDecoratorBuilder = (route, ref, cluster) => {
//     const policy = route.retry;                 // whatever the IR carries
//     if (!policy) return undefined;              // no policy: no decorator, no cost
//     return {
//       name: 'retry',
//       replayBytes: 64 * 1024,                   // keep up to 64 KiB of body for another attempt
//       intercept: (next) => (req, handler) => next(req, new RetryHandler(req, handler, next, policy)),
//     };
//   };
//   // then add it to DECORATORS below, in order (the first is outermost:
//   // retries, then circuit breaking / outlier detection per attempt).
//
// A complete retry handler (stable controller, silenced abandoned attempts,
// body replay) is RetryOnce in test/upstream-decorators.test.ts; an answer
// instead of the backend is refuseOnOpenRoutes there.
//
// Rules a decorator keeps:
// - Call the downstream handler's onRequestStart once, with a controller that
//   stays valid across attempts (an AttemptController, below):
//   the exchange aborts through it when the client leaves or the route times out.
// - Nothing reaches the downstream handler from an attempt that is abandoned.
// - A body can be sent again only through `req.replay.stream()`, which is
//   undefined once the body went over the bound: the request is then not
//   retryable. A request without body (`req.body === undefined`) always is.
// - To answer instead of the backend (circuit open, retries exhausted), call
//   onResponseError(IDLE_CONTROLLER, new UpstreamRefused(reply, kind)): the
//   exchange sends the reply and counts it under its kind.
// - Each attempt's replica is `req.attempt.member`, set by the terminal
//   dispatch before `next(req, handler)` returns (outlier detection reads it
//   there); a decorator that wants a given replica sets `req.member`.
import type { Dispatcher } from 'undici';
import type { Reply } from '../core/decision.ts';
import { gatewayReply } from '../core/replies.ts';
import type { IRWeightedBackend, IRRoute } from '../ir/types.ts';
import type { Cluster, Member } from './cluster.ts';
import type { ReplayableBody } from './replayable-body.ts';
import { retries } from './retry.ts';
import { circuitBreaker } from './circuit-breaker.ts';
import { outlierDetection } from './outlier.ts';
import type { Balancer } from './balancer.ts';

/** What an attempt shares with the exchange that started it (the exchange itself, no allocation). */
export interface UpstreamAttempt {
  /** The replica the latest attempt went to, set by the terminal dispatch. */
  member: Member | undefined;
  /**
   * The replica whose in-flight count (Member.active, for LeastRequest) this
   * request holds: the terminal dispatch moves it from attempt to attempt,
   * the exchange gives it back when the request is over.
   */
  counted: Member | undefined;
  /** A header the answer carries for the balancer (a generated hash cookie, a session cookie or header). */
  stickyName: string | undefined;
  stickyValue: string;
}

/** One upstream request as decorators see it: undici's options plus the gateway's facts. */
export interface UpstreamRequest extends Dispatcher.DispatchOptions {
  cluster: Cluster;
  /** The route backend's load balancer (else the cluster's round robin). */
  balancer?: Balancer;
  /** The client's address, for ConsistentHash SourceIP. */
  source?: string;
  /** Pin the replica for this attempt (else the cluster's load balancer picks). */
  member?: Member;
  /** The body kept for another attempt, when a decorator asked for replayBytes. */
  replay?: ReplayableBody;
  /** The client spoke HTTP/2 (useClientProtocol picks the replica's HTTP/2 pool). */
  clientH2?: boolean;
  attempt: UpstreamAttempt;
}

export type UpstreamDispatch = (req: UpstreamRequest, handler: Dispatcher.DispatchHandler) => void;
export type UpstreamInterceptor = (next: UpstreamDispatch) => UpstreamDispatch;

export interface UpstreamDecorator {
  name: string;
  intercept: UpstreamInterceptor;
  /** Body bytes to keep for a second attempt (0 or absent: the body only streams). */
  replayBytes?: number;
}

/** Builds a route backend's decorator from the IR, or undefined when its policy asks for none. */
export type UpstreamDecoratorBuilder = (route: IRRoute, ref: IRWeightedBackend, cluster: Cluster) => UpstreamDecorator | undefined;

/** Every decorator builder, outermost first. */
export const DECORATORS: UpstreamDecoratorBuilder[] = [
  // Retries outermost: each attempt goes through the circuit breaker again (as Envoy counts them).
  retries,
  circuitBreaker,
  // Innermost: every attempt's outcome is reported against the replica that gave it.
  outlierDetection,
];

/** The gateway answers instead of the backend (circuit open, retries exhausted, ...). */
export class UpstreamRefused extends Error {
  readonly reply: Reply;
  /** The upstream error kind counted in portcullis_upstream_errors_total. */
  readonly kind: string;
  constructor(reply: Reply, kind: string) {
    super(`upstream refused: ${kind}`);
    this.reply = reply;
    this.kind = kind;
  }
}

const NO_ENDPOINT = gatewayReply('noHealthyUpstream');

/** For onResponseError before any pool saw the request (no controller exists yet). */
export const IDLE_CONTROLLER: Dispatcher.DispatchController = { aborted: false, paused: false, reason: null, abort() {}, pause() {}, resume() {} };

/** The end of every chain: pick a replica (unless pinned) and dispatch to its pool. */
export const dispatchToReplica: UpstreamDispatch = (req, handler) => {
  const member = req.member ?? (req.balancer ? req.balancer.pick(req) : req.cluster.pick());
  const attempt = req.attempt;
  attempt.member = member;
  if (attempt.counted !== undefined) attempt.counted.active--;
  attempt.counted = member;
  if (!member) {
    handler.onResponseError?.(IDLE_CONTROLLER, new UpstreamRefused(NO_ENDPOINT, 'no_endpoint'));
    return;
  }
  member.active++;
  (req.clientH2 === true && member.h2Pool !== undefined ? member.h2Pool : member.pool).dispatch(req, handler);
};

/** A backend's dispatch: its decorators in front of the terminal one (just the terminal when none). */
export function composeUpstream(decorators: readonly UpstreamDecorator[]): { dispatch: UpstreamDispatch; replayBytes: number } {
  let dispatch = dispatchToReplica;
  let replayBytes = 0;
  for (let i = decorators.length - 1; i >= 0; i--) {
    dispatch = decorators[i].intercept(dispatch);
    replayBytes = Math.max(replayBytes, decorators[i].replayBytes ?? 0);
  }
  return { dispatch, replayBytes };
}

/** The decorators the IR asks for on one route backend, outermost first. */
export function decoratorsFor(route: IRRoute, ref: IRWeightedBackend, cluster: Cluster): UpstreamDecorator[] {
  const out: UpstreamDecorator[] = [];
  for (const build of DECORATORS) {
    const d = build(route, ref, cluster);
    if (d) out.push(d);
  }
  return out;
}

/**
 * The controller a retrying decorator gives the handler after it: it stays the
 * same across attempts and reaches whichever attempt is live (`live`), and an
 * abort that comes between attempts is kept for the next one.
 */
export class AttemptController implements Dispatcher.DispatchController {
  live: Dispatcher.DispatchController | null = null;
  reason: Error | null = null;
  get aborted(): boolean {
    return this.reason !== null;
  }
  get paused(): boolean {
    return this.live?.paused ?? false;
  }
  /** The live attempt's response header names as received (http1.preserveHeaderCase reads them). */
  get rawHeaders(): Dispatcher.DispatchController['rawHeaders'] {
    return this.live?.rawHeaders;
  }
  abort(err: Error): void {
    this.reason = err;
    this.live?.abort(err);
  }
  pause(): void {
    this.live?.pause();
  }
  resume(): void {
    this.live?.resume();
  }
}
