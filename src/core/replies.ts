// The gateway's own answers: every 4xx/5xx the gateway writes itself (not
// relayed from a backend or an external authorizer) is built here, with its
// content type, body and headers, so that one place says what a client sees —
// and one place can later change it (Envoy Gateway's responseOverride).
// Bodies follow Envoy's local replies where clients and tooling match on them
// ("RBAC: access denied", "no healthy upstream", jwt_verify_lib's messages).
import type { Reply } from './decision.ts';
import type { IRResponseOverride } from '../ir/traffic.ts';

/** Names of the gateway's own replies; the access log and metrics see their status. */
export type GatewayReplyName =
  | 'badRequest'
  | 'badPath'
  | 'badHost'
  | 'noListener'
  | 'noRoute'
  | 'uriTooLong'
  | 'payloadTooLarge'
  | 'headersTooLarge'
  | 'upgradeRequired'
  | 'rbacDenied'
  | 'botDetected'
  | 'clientAddressMissing'
  | 'policyMisconfigured'
  | 'noValidBackend'
  | 'rateLimitUnavailable'
  | 'internalError'
  | 'badGateway'
  | 'noHealthyUpstream'
  | 'gatewayTimeout'
  | 'connectionReset';

const TEXT = 'text/plain; charset=utf-8';
/** Envoy's own local replies say text/plain without a charset; kept where clients compare. */
const ENVOY_TEXT = 'text/plain';

function reply(status: number, body: string, contentType = TEXT, extra?: Record<string, string>): Reply {
  return Object.freeze({ status, body, headers: Object.freeze({ 'content-type': contentType, ...extra }) as Record<string, string> });
}

/** A request the gateway cannot read: the connection is closed after the answer. */
const closing = { connection: 'close' };

const CATALOGUE: Record<GatewayReplyName, Reply> = {
  badRequest: reply(400, 'bad request\n', TEXT, closing),
  badPath: reply(400, 'bad request path\n', TEXT, closing),
  badHost: reply(400, 'bad Host header\n', TEXT, closing),
  noListener: reply(404, 'no listener\n', TEXT, closing),
  noRoute: reply(404, 'no route\n'),
  uriTooLong: reply(414, 'URI too long\n', TEXT, closing),
  payloadTooLarge: reply(413, 'payload too large\n', TEXT, closing),
  headersTooLarge: reply(431, 'request headers too large', TEXT, closing),
  // HTTP/1.0 on a listener whose ClientTrafficPolicy does not accept it (http1.http10); RFC 9110 §15.5.22 wants Upgrade.
  upgradeRequired: reply(426, 'upgrade required\n', TEXT, { connection: 'close', upgrade: 'HTTP/1.1' }),
  rbacDenied: reply(403, 'RBAC: access denied', ENVOY_TEXT),
  // Kong's bot-detection answer.
  botDetected: reply(403, '{"message":"Forbidden"}', 'application/json; charset=utf-8'),
  // ClientTrafficPolicy clientIPDetection.customHeader with failClosed: no usable client address.
  clientAddressMissing: reply(403, 'client address not found\n'),
  policyMisconfigured: reply(500, 'policy misconfigured\n', ENVOY_TEXT),
  noValidBackend: reply(500, 'no valid backend\n'),
  rateLimitUnavailable: reply(500, 'rate limit service unavailable\n'),
  internalError: reply(500, 'internal error\n'),
  badGateway: reply(502, 'upstream connect error or disconnect/reset before headers\n'),
  noHealthyUpstream: reply(503, 'no healthy upstream\n'),
  gatewayTimeout: reply(504, 'upstream request timeout\n'),
  // Istio STRICT mTLS refused per request: no answer, the connection is reset (the status is what is logged).
  connectionReset: Object.freeze({ status: 400, reset: true }),
};

/** The gateway's reply by name (shared, frozen: never mutate it). */
export function gatewayReply(name: GatewayReplyName): Reply {
  return CATALOGUE[name];
}

/**
 * A route's responseOverride (Envoy Gateway), compiled once per snapshot: a
 * table by status, so that matching an answer is one array read. It applies
 * to the gateway's own replies (sendReply in dataplane/respond.ts: 401, 403,
 * 429, 503...) and to the backend's answers (dataplane/exchange.ts), the same
 * way: the body and content type are the rule's, the status its statusCode
 * when set, and a reply's other headers (Retry-After, WWW-Authenticate) stay.
 */
export class ReplyOverrides {
  private readonly byStatus: (IRResponseOverride | undefined)[] = [];

  constructor(rules: readonly IRResponseOverride[]) {
    for (const rule of rules) {
      for (const r of rule.statuses) for (let s = Math.max(100, r.start); s <= Math.min(599, r.end); s++) this.byStatus[s] ??= rule;
    }
  }

  /** The rule for a status, if any. */
  match(status: number): IRResponseOverride | undefined {
    return this.byStatus[status];
  }

  /** The reply as the matching rule rewrites it (the same reply when none matches). */
  apply(reply: Reply): Reply {
    const rule = this.byStatus[reply.status];
    if (rule === undefined || reply.reset) return reply;
    const headers: Record<string, string | string[]> = { ...reply.headers };
    if (rule.contentType !== undefined) headers['content-type'] = rule.contentType;
    return { status: rule.statusCode ?? reply.status, headers, body: rule.body ?? reply.body };
  }
}

/** Over a rate limit (Envoy's local_ratelimit / ratelimit bodies), with the filter's rate-limit headers. */
export function rateLimited(local: boolean, headers: Record<string, string>): Reply {
  return { status: 429, headers: { 'content-type': TEXT, ...headers }, body: local ? 'local_rate_limited\n' : 'rate_limited\n' };
}

/** A fault-injection abort: an HTTP status, or an HTTP 200 carrying a gRPC status. */
export function faultAbort(httpStatus: number | undefined, grpcStatus: number | undefined): Reply {
  return grpcStatus !== undefined
    ? { status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': String(grpcStatus), 'grpc-message': 'fault filter abort' } }
    : { status: httpStatus ?? 500, headers: { 'content-type': TEXT }, body: 'fault filter abort' };
}

/** A JWT refused (status and message from auth/jwt/status.ts), with the challenge Envoy sends. */
export function jwtRejected(status: 401 | 403, message: string, realm: string): Reply {
  return { status, headers: { 'www-authenticate': `Bearer realm="${realm}", error="invalid_token"`, 'content-type': ENVOY_TEXT }, body: message };
}

const REASONS: Record<number, string> = { 400: 'Bad Request', 431: 'Request Header Fields Too Large' };

/**
 * The same reply as raw HTTP/1.1 bytes, for the answers written on a socket
 * before any request object exists (a head the parser refused).
 */
export function rawHttp1(name: 'badRequest' | 'headersTooLarge'): string {
  const r = CATALOGUE[name];
  const body = r.body ?? '';
  let head = `HTTP/1.1 ${r.status} ${REASONS[r.status]}\r\n`;
  for (const [k, v] of Object.entries(r.headers ?? {})) head += `${k}: ${v}\r\n`;
  return `${head}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/**
 * A gRPC client reads only grpc-status: every answer the gateway gives a gRPC
 * request (content-type application/grpc…) goes as HTTP 200 with a gRPC status,
 * trailers-only, as Envoy's local replies do. The mapping is gRPC's
 * (doc/http-grpc-status-mapping.md), except 429: RESOURCE_EXHAUSTED, as Envoy's
 * rate-limit filters answer gRPC (rate_limited_as_resource_exhausted).
 */
const GRPC_STATUS: Readonly<Record<number, number>> = {
  400: 13, // INTERNAL
  401: 16, // UNAUTHENTICATED
  403: 7, // PERMISSION_DENIED
  404: 12, // UNIMPLEMENTED
  413: 8, // RESOURCE_EXHAUSTED
  429: 8, // RESOURCE_EXHAUSTED
  502: 14, // UNAVAILABLE
  503: 14, // UNAVAILABLE
  504: 4, // DEADLINE_EXCEEDED: the route's timeout ran out
};
const GRPC_UNKNOWN = 2;

/** Whether a request's content type is gRPC's (application/grpc, application/grpc+proto, …; not grpc-web). */
export function isGrpcContentType(contentType: string | string[] | undefined): boolean {
  if (typeof contentType !== 'string' || !contentType.startsWith('application/grpc')) return false;
  const next = contentType.charCodeAt(16);
  return Number.isNaN(next) || next === 43 /* + */ || next === 59 /* ; */;
}

/** The gRPC form of a reply: HTTP 200, grpc-status and grpc-message (percent-encoded, as gRPC requires), the reply's other headers kept. */
export function asGrpcReply(reply: Reply): Reply {
  // Already gRPC (a fault abort with grpc status), or a success the route configured (a direct response).
  if (reply.status >= 200 && reply.status < 300) return reply;
  const code = GRPC_STATUS[reply.status] ?? GRPC_UNKNOWN;
  const message = (reply.body ?? `HTTP status ${reply.status}`).trim();
  return {
    status: 200,
    headers: { ...reply.headers, 'content-type': 'application/grpc', 'grpc-status': String(code), 'grpc-message': encodeURIComponent(message) },
  };
}
