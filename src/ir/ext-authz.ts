// External authorization (Envoy's ext_authz protocol) as plain data,
// independent of who configures it: Istio's CUSTOM action (meshConfig
// extensionProviders) and Envoy Gateway's SecurityPolicy extAuth both
// translate into these configs; src/authz/ext-authz runs them.
import type { StringPattern } from './patterns.ts';

export interface ExtAuthzEndpoint {
  /** IP address or DNS name. */
  host: string;
  port: number;
}

export interface ExtAuthzCommon {
  /** Name for traces and errors (the provider name, or the policy that owns it). */
  name: string;
  /** Where the authorization service runs; requests go round-robin. Must not be empty. */
  endpoints: ExtAuthzEndpoint[];
  /** Deadline for one check, in ms (Istio's default is 600 s). */
  timeoutMs: number;
  /** On a failed check (unreachable, timeout, 5xx, garbage): let the request through. */
  failOpen: boolean;
  /** Status sent to the client when a check fails and failOpen is false (Envoy default 403). */
  statusOnError: number;
  /**
   * Further checks after a failed one (unreachable, 5xx), each on the next
   * endpoint, while the timeout has not run out (SecurityPolicy
   * backendSettings.retry.numRetries); absent: none.
   */
  retries?: number;
  /** Send the request body with the check (Envoy with_request_body); absent: heads only. */
  includeBody?: ExtAuthzBody;
}

/** Envoy's BufferSettings (Istio includeRequestBodyInCheck). */
export interface ExtAuthzBody {
  /** At most this much of the body is read and sent. */
  maxBytes: number;
  /** Over maxBytes: check with the first maxBytes (else 413). */
  allowPartial: boolean;
  /** gRPC: the body as raw_body bytes instead of the UTF-8 body string. */
  packAsBytes: boolean;
}

/** Envoy's raw HTTP ext_authz service (envoy.filters.http.ext_authz http_service). */
export interface ExtAuthzHttpConfig extends ExtAuthzCommon {
  protocol: 'http';
  /** Prepended to the original request path (Envoy path_prefix); "" for none. */
  pathPrefix: string;
  /**
   * Client request headers copied into the check request (case-insensitive), in
   * addition to Host, :method, :path and Authorization, which are always sent.
   */
  allowedHeaders: StringPattern[];
  /** Headers set on the check request (Envoy headers_to_add), overriding client ones. */
  headersToAdd: { name: string; value: string }[];
  /** Authorization response headers copied onto the upstream request on allow (overwriting). */
  allowedUpstreamHeaders: StringPattern[];
  /**
   * Authorization response headers relayed to the client on deny. Empty = every
   * header but Host (Envoy's default); otherwise these plus WWW-Authenticate and Location.
   */
  allowedClientHeaders: StringPattern[];
  /** Authorization response headers added to the client's response on allow. */
  allowedClientHeadersOnSuccess: StringPattern[];
}

/** Envoy's gRPC ext_authz service: envoy.service.auth.v3.Authorization/Check. */
export interface ExtAuthzGrpcConfig extends ExtAuthzCommon {
  protocol: 'grpc';
}

export type ExtAuthzConfig = ExtAuthzHttpConfig | ExtAuthzGrpcConfig;
