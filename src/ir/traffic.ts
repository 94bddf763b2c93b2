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
  /** "BackendTrafficPolicy/ns/name" of loadBalancer/healthCheck: with the route and backend, the health state's identity. */
  policy?: string;
  loadBalancer?: IRLoadBalancer;
  healthCheck?: IRHealthCheck;
  sessionPersistence?: IRSessionPersistence;
  /** Connection settings of this route rule's pools (circuitBreaker.maxRequestsPerConnection, timeout.tcp.connectTimeout, timeout.http.connectionIdleTimeout). */
  pool?: IRPoolSettings;
  /** responseOverride rules in order (the first that matches a status wins). */
  responseOverride?: IRResponseOverride[];
  /** BackendTrafficPolicy useClientProtocol: HTTP/2 upstream for HTTP/2 clients, HTTP/1.1 for HTTP/1.1 clients. */
  useClientProtocol?: boolean;
}

/** BackendTrafficPolicy loadBalancer (Envoy Gateway's default when left out: LeastRequest). */
export interface IRLoadBalancer {
  type: 'RoundRobin' | 'LeastRequest' | 'Random' | 'ConsistentHash';
  consistentHash?: IRConsistentHash;
  /** slowStart.window: a new replica's share ramps from 10 % to all of it over this long (RoundRobin, LeastRequest). */
  slowStartMs: number;
}

export interface IRConsistentHash {
  type: 'SourceIP' | 'Header' | 'Headers' | 'Cookie';
  /** Header / Headers: lowercase names, hashed together in this order. */
  headers: string[];
  cookie?: { name: string; /** absent: no cookie is generated */ ttlMs?: number; attributes: Record<string, string> };
  /** Maglev table size (a prime; Envoy's default 65537). */
  tableSize: number;
}

/** healthCheck.passive (outlier detection); 0 disables a counter. */
export interface IRPassiveHealth {
  splitExternalLocalOriginErrors: boolean;
  intervalMs: number;
  consecutiveLocalOriginFailures: number;
  consecutiveGatewayErrors: number;
  consecutive5XxErrors: number;
  baseEjectionTimeMs: number;
  maxEjectionPercent: number;
}

/** healthCheck.active. */
export interface IRActiveHealth {
  type: 'HTTP' | 'TCP' | 'GRPC';
  timeoutMs: number;
  intervalMs: number;
  initialJitterMs: number;
  unhealthyThreshold: number;
  healthyThreshold: number;
  http?: { hostname?: string; path: string; method: string; expectedStatuses: number[]; expectedResponse?: Buffer };
  tcp?: { send?: Buffer; receive?: Buffer };
  /** grpc.health.v1.Health/Check of this service ('' = the server as a whole). */
  grpc?: { service: string };
}

export interface IRHealthCheck {
  passive?: IRPassiveHealth;
  active?: IRActiveHealth;
  /** Below this share of healthy replicas, traffic goes to all of them (Envoy's panic mode; default 50). */
  panicThreshold: number;
}

/** HTTPRoute rule sessionPersistence (Gateway API). */
export interface IRSessionPersistence {
  type: 'Cookie' | 'Header';
  /** The cookie's name, or the header's (lowercase). */
  name: string;
  /** 0: none. */
  absoluteTimeoutMs: number;
  idleTimeoutMs: number;
  /** cookieConfig.lifetimeType Permanent: the cookie carries Max-Age. */
  permanent: boolean;
  /** The cookie's Path. */
  path: string;
}

/** One BackendTrafficPolicy responseOverride rule, its body already read (inline or from its ConfigMap). */
export interface IRResponseOverride {
  /** Inclusive status ranges (a Value is a range of one). */
  statuses: { start: number; end: number }[];
  contentType?: string;
  /** Absent: the answer keeps its body (statusCode alone changes). */
  body?: string;
  statusCode?: number;
}

/** Upstream connection settings a policy sets for its route rule (its replicas get pools of their own). */
export interface IRPoolSettings {
  /** Requests a connection serves before it is closed (0: unlimited). */
  maxRequestsPerConnection: number;
  /** 0: the default (10 s, Envoy Gateway's). */
  connectTimeoutMs: number;
  /** timeout.http.connectionIdleTimeout: an idle upstream connection is closed after this long (0: the default, 60 s). */
  idleTimeoutMs: number;
}
