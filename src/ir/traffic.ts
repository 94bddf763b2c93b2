// IR of the upstream side of BackendTrafficPolicy (and HTTPRoute `retry`):
// per route rule, read by the upstream decorators (src/upstream/).

export interface IRCircuitBreaker {
  /** "BackendTrafficPolicy/ns/name": with the route and backend, the breaker's identity (it outlives reloads). */
  policy: string;
  maxConnections: number;
  maxPendingRequests: number;
  maxParallelRequests: number;
  maxParallelRetries: number;
}

export interface IRRetry {
  /** Retries after the first attempt. */
  numRetries: number;
  /** Statuses that are retried (5xx, gateway-error, retriable-4xx and retriable-status-codes, expanded). */
  statuses: number[];
  /** Retry when the connection could not be made. */
  connectFailure: boolean;
  /** Retry when the connection was reset before a response (or the attempt timed out). */
  reset: boolean;
  /** One attempt's deadline until its response headers (0 = only the route's timeouts). */
  perTryTimeoutMs: number;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

export interface IRRouteTraffic {
  circuitBreaker?: IRCircuitBreaker;
  retry?: IRRetry;
}
