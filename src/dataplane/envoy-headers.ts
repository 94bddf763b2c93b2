// ClientTrafficPolicy headers.enableEnvoyHeaders: the x-envoy-* headers Envoy's
// router adds unless suppress_envoy_headers (Envoy Gateway suppresses them by
// default). A client's own copy of a header the gateway sets here is replaced or
// removed, so that the upstream can trust it.
import type { DataRoute } from './compile.ts';

/** The upstream request's x-envoy-expected-rq-timeout-ms (the route's request timeout) and x-envoy-original-path (a rewritten path's original). */
export function setEnvoyRequestHeaders(headers: Record<string, string | string[]>, route: DataRoute, originalPath: string, rewrittenPath: string): void {
  const timeout = route.timeouts.requestMs;
  if (timeout > 0) headers['x-envoy-expected-rq-timeout-ms'] = String(timeout);
  else delete headers['x-envoy-expected-rq-timeout-ms'];
  if (rewrittenPath !== originalPath) headers['x-envoy-original-path'] = originalPath;
  else delete headers['x-envoy-original-path'];
}

/** The answer's x-envoy-upstream-service-time: whole milliseconds from sending the request upstream to its answer's head. */
export function upstreamServiceTime(sentAt: number, now: number): string {
  return String(Math.floor(now - sentAt));
}
