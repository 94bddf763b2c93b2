import type { IRRouteTraffic } from './traffic.ts';

// The intermediate representation: plain, immutable, JSON-serializable data.
// translate/ produces it from resources; dataplane/ compiles it into handlers.
// A snapshot crosses process boundaries (primary → workers), so no functions,
// no class instances, no RegExp objects: patterns are strings here.

export interface Snapshot {
  /** Content hash of the IR: equal versions mean equal configuration. */
  version: string;
  generatedAt: string;
  listeners: IRListener[];
  /** Upstream clusters, by id (referenced from routes). */
  backends: Record<string, IRBackend>;
  settings: IRSettings;
  /** Resource status as translate decided it (accepted / rejected and why). */
  status: ResourceStatus[];
}

export interface IRSettings {
  limits: IRLimits;
}

export interface IRLimits {
  /** Largest request header block in bytes (431 beyond). */
  maxHeaderBytes: number;
  /** Longest request target in bytes (414 beyond). */
  maxUrlBytes: number;
  /** Largest request body in bytes (413 beyond); 0 = unlimited. */
  maxBodyBytes: number;
}

export type PathNormalization = 'NONE' | 'BASE' | 'MERGE_SLASHES' | 'DECODE_AND_MERGE_SLASHES';
/** A listener's: Istio's modes, or DECODE_SLASHES (%2F and %5C decoded, slashes not merged: a ClientTrafficPolicy's path). */
export type ListenerPathNormalization = PathNormalization | 'DECODE_SLASHES';

/** One listening socket: every Gateway listener on the same port shares it. */
export interface IRListener {
  /** "<address>:<port>" as bound; unique within a snapshot. */
  name: string;
  port: number;
  protocol: 'HTTP' | 'HTTPS';
  tls?: IRListenerTLS;
  pathNormalization: ListenerPathNormalization;
  /**
   * X-Forwarded-For hops to trust for the client address (Envoy's
   * xff_num_trusted_hops; Istio's gatewayTopology.numTrustedProxies). 0 = the
   * connection's peer is the client.
   */
  xffTrustedHops: number;
  /** Connection bounds and client-certificate forwarding (ClientTrafficPolicy's to set; translate writes the defaults). */
  connection: IRConnection;
  /**
   * ClientTrafficPolicy clientIPDetection beyond a hop count: X-Forwarded-For
   * read right to left past trusted proxy ranges, or a custom header. Absent:
   * xffTrustedHops decides.
   */
  clientIpDetection?: IRClientIpDetection;
  /** ClientTrafficPolicy http2: the SETTINGS and connection window of new HTTP/2 sessions; absent: Node's defaults. */
  http2?: IRHttp2;
  /** ClientTrafficPolicy `headers`: what the listener does to every request head and answer, when a policy says. */
  clientHeaders?: IRClientHeaders;
  /**
   * ClientTrafficPolicy path.escapedSlashesAction when it answers instead of
   * forwarding: a path with %2F or %5C is refused (400) or redirected (307) to
   * its unescaped form. Absent: pathNormalization alone decides.
   */
  escapedSlashes?: 'RejectRequest' | 'UnescapeAndRedirect';
  /** ClientTrafficPolicy healthCheck.path: the gateway answers 200 itself on exactly this (normalized) path. */
  healthCheckPath?: string;
  /** ClientTrafficPolicy proxyProtocol (or enableProxyProtocol): each connection opens with a PROXY protocol header naming the client. */
  proxyProtocol?: IRProxyProtocol;
  /**
   * On a listener a ClientTrafficPolicy covers: whether HTTP/1.0 requests are
   * served (http1.http10 set; Envoy Gateway answers 426 otherwise, as Envoy's
   * accept_http_10 is off by default). Undefined: no policy, served as always.
   */
  http10?: boolean;
  /** ClientTrafficPolicy http1.http10.useDefaultHost: the Host an HTTP/1.0 request without one is given. */
  http10DefaultHost?: string;
  /** ClientTrafficPolicy tcpKeepalive: SO_KEEPALIVE on every accepted connection (TCP_KEEPIDLE, TCP_KEEPINTVL, TCP_KEEPCNT). */
  tcpKeepalive?: IRTcpKeepalive;
  /**
   * On a listener a ClientTrafficPolicy covers: whether HTTP/1 clients get the
   * upstream's response trailers (http1.enableTrailers; Envoy Gateway drops
   * them unless true). Undefined: no policy, relayed as always.
   */
  http1Trailers?: boolean;
  /** ClientTrafficPolicy http1.preserveHeaderCase: HTTP/1 header names keep the case they arrived in (header-case.ts). */
  preserveHeaderCase?: true;
  /** The Gateway listeners merged into this socket. */
  sections: IRListenerSection[];
  /** Every route rule attached to any section, with its effective hostnames. */
  routes: IRRoute[];
}

export interface IRTcpKeepalive {
  idleMs: number;
  intervalMs: number;
  probes: number;
}

export interface IRConnection {
  /**
   * From accept to the first complete request head, the TLS handshake
   * included; then for each later HTTP/1.1 head after idleTimeoutMs. Closed beyond.
   */
  requestHeadersTimeoutMs: number;
  /** A keep-alive HTTP/1.1 connection or an HTTP/2 session with no request in flight is closed after this. */
  idleTimeoutMs: number;
  forwardClientCert: IRForwardClientCert;
  /**
   * ClientTrafficPolicy timeout.http.requestReceivedTimeout: from a request's
   * start until its last byte was received, unless the answer began first;
   * 408 (or the stream cut once answering) beyond. Absent or 0: none.
   */
  requestReceivedTimeoutMs?: number;
  /**
   * ClientTrafficPolicy timeout.http.streamIdleTimeout: a request (HTTP/1:
   * its connection; HTTP/2: its stream) with no byte in either direction for
   * this long is answered 408 "stream timeout", or cut once the answer began.
   * The wait for the upstream counts as idle, as in Envoy. Absent or 0: none.
   */
  streamIdleTimeoutMs?: number;
  /** connection.connectionLimit: open connections on this socket (per process) beyond which new ones are closed, after closeDelayMs. */
  connectionLimit?: { max: number; closeDelayMs: number };
  /** connection.bufferLimit: most bytes of a request body the gateway holds in memory (read for a filter, kept for a retry); 413 beyond. */
  bufferLimitBytes?: number;
}

export interface IRProxyProtocol {
  /** A connection without the header is served with its own peer (Envoy's allow_requests_without_proxy_protocol); false: closed. */
  optional: boolean;
}

export interface IRHttp2 {
  maxConcurrentStreams?: number;
  /** Bytes; the SETTINGS_INITIAL_WINDOW_SIZE of every stream. */
  initialStreamWindowSize?: number;
  /** Bytes; the connection's receive window, opened on a new session. */
  initialConnectionWindowSize?: number;
}

/** ClientTrafficPolicy headers, in Envoy Gateway's terms; an absent field keeps Portcullis's default. */
export interface IRClientHeaders {
  /** A request header whose name has an underscore: refused (400) or dropped before routing. Absent: allowed. */
  withUnderscores?: 'RejectRequest' | 'DropHeader';
  /** X-Request-ID. Absent: PreserveOrGenerate. */
  requestId?: 'PreserveOrGenerate' | 'Preserve' | 'Generate' | 'Disable';
  /** earlyRequestHeaders: applied to the client's head before routing, before any filter. */
  early?: IRHeaderModifier;
  /** Some early set/add value holds %TLS_JA3_FINGERPRINT% or %TLS_JA4_FINGERPRINT%: substituted per request (client-headers.ts). */
  earlyFingerprints?: true;
  /** lateResponseHeaders: applied to every answer last, the gateway's own included. */
  late?: IRHeaderModifier;
  /**
   * enableEnvoyHeaders: the router's x-envoy-* headers, as Envoy adds them
   * unless suppress_envoy_headers (x-envoy-upstream-service-time on the
   * answer; x-envoy-expected-rq-timeout-ms and x-envoy-original-path upstream).
   */
  envoyHeaders?: true;
  /** disableRateLimitHeaders: rate limits answer without their RateLimit-* / X-RateLimit-* headers. */
  noRateLimitHeaders?: true;
}

/** Envoy's forward_client_cert_details (Envoy Gateway: ClientTrafficPolicy headers.xForwardedClientCert). */
export interface IRForwardClientCert {
  mode: 'SANITIZE' | 'FORWARD_ONLY' | 'APPEND_FORWARD' | 'SANITIZE_SET' | 'ALWAYS_FORWARD_ONLY';
  /** APPEND_FORWARD / SANITIZE_SET: what this hop's element carries besides Hash (Envoy's set_current_client_cert_details). */
  details: ('Cert' | 'Chain' | 'Subject' | 'URI' | 'DNS')[];
}
export type IRClientIpDetection =
  | { type: 'xffTrustedCidrs'; cidrs: string[] }
  /** failClosed: a request without a valid address in the header is refused (403). */
  | { type: 'customHeader'; name: string; failClosed: boolean };

export interface IRListenerSection {
  gateway: NamespacedName;
  /** Listener name in the Gateway. */
  name: string;
  hostname?: string;
  labels: Record<string, string>;
}

export interface NamespacedName {
  namespace: string;
  name: string;
}

export interface IRListenerTLS {
  /** Certificates in SNI order: the first one whose hostnames match wins; the first is the default. */
  certificates: IRCertificate[];
  /** Client certificate validation (mTLS), when a policy asks for it. */
  clientValidation?: IRClientValidation;
  /** ALPN protocols offered, in preference order (ClientTrafficPolicy tls.alpnProtocols; default h2, http/1.1). */
  alpn: string[];
  /** ClientTrafficPolicy tls: protocol bounds and algorithms, in Node's terms; absent: Node's defaults. */
  params?: IRTlsParams;
  /**
   * ClientTrafficPolicy tls.session.resumption, on a listener a policy covers
   * (both false when it says none: Envoy Gateway's default); absent: Node's
   * defaults (session tickets). See dataplane/tls-resumption.ts.
   */
  resumption?: { stateless: boolean; stateful: boolean };
  /** ClientTrafficPolicy tls.fingerprints: the ClientHello fingerprints computed per connection (dataplane/tls-fingerprint.ts). */
  fingerprints?: ('JA3' | 'JA4')[];
}

/** Options of tls.createSecureContext, as OpenSSL reads them. */
export interface IRTlsParams {
  minVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1' | 'TLSv1.1' | 'TLSv1.2' | 'TLSv1.3';
  /** OpenSSL cipher list (TLS 1.2 and below; TLS 1.3 suites stay Node's, as Envoy's do). */
  ciphers?: string;
  /** Key-exchange groups, ':'-separated. */
  ecdhCurve?: string;
  /** Signature algorithms, ':'-separated. */
  sigalgs?: string;
}

export interface IRCertificate {
  /** Hostnames this certificate is for (exact or "*.suffix"); empty = any. */
  hostnames: string[];
  certPem: string;
  keyPem: string;
  /** "Secret/ns/name", for status and /config (never the key). */
  source: string;
}

export interface IRClientValidation {
  caPem: string;
  /** REQUIRE: handshake refused without a valid client certificate. OPTIONAL: validated when presented. */
  mode: 'REQUIRE' | 'OPTIONAL';
  /**
   * ClientTrafficPolicy crl: revocation lists, one PEM ("X509 CRL") each. OpenSSL
   * checks every certificate of the chain against them (so every CA of the chain
   * needs its CRL, as in Envoy): a revoked one fails the handshake.
   */
  crlPems?: string[];
  /**
   * crl.onlyVerifyLeafCertificate: the CRLs are not given to OpenSSL (it would
   * check the whole chain); the leaf is looked up in its issuer's CRL once the
   * handshake verified the chain (dataplane/peer-check.ts).
   */
  crlLeafOnly?: IRLeafCrl[];
  /** spkiHashes: base64 SHA-256 of the client certificate's SPKI DER. With certificateHashes, one of either list must match. */
  spkiHashes?: string[];
  /** certificateHashes: SHA-256 of the client certificate's DER, as Node's fingerprint256 writes it (upper-case hex, ':'-separated). */
  certificateHashes?: string[];
  /** subjectAltNames: one matcher matching one SAN of its type accepts the certificate. */
  subjectAltNames?: IRSanMatchers;
  /**
   * A presented certificate that fails verification closes the connection even in
   * OPTIONAL mode (Envoy, ClientTrafficPolicy optional); absent, it is served as if
   * none were sent (Istio PERMISSIVE).
   */
  refuseUnverified?: boolean;
}

/** One CRL for the leaf-only check: its PEM, the revoked serials (lower-case hex, no leading zeros), its validity. */
export interface IRLeafCrl {
  pem: string;
  serials: string[];
  thisUpdateMs: number;
  nextUpdateMs?: number;
}

/** Envoy Gateway's StringMatch (Exact when the type is not said). */
export interface IRStringMatch {
  type: 'Exact' | 'Prefix' | 'Suffix' | 'RegularExpression';
  value: string;
}

export interface IRSanMatchers {
  dnsNames: IRStringMatch[];
  emailAddresses: IRStringMatch[];
  ipAddresses: IRStringMatch[];
  uris: IRStringMatch[];
  otherNames: (IRStringMatch & { oid: string })[];
}

export interface IRRoute {
  /** Stable id: "HTTPRoute/ns/name/rule/<i>" (unique per listener). */
  id: string;
  /** Short label for metrics and logs: "ns/name/<rule>" or the rule's name. */
  label: string;
  route: RouteRef;
  /** Which Gateway listener section it came through. */
  section: { gateway: NamespacedName; name: string };
  /** Effective hostnames (route ∩ listener). Empty = any host. */
  hostnames: string[];
  matches: IRMatch[];
  /** Tie-breakers after match specificity: older route first, then ns/name, then rule index. */
  order: { created: string; key: string; rule: number };
  /** The route's filter chain, already in chain order (see ir/filter-order.ts). */
  filters: IRFilter[];
  action: IRAction;
  timeouts: IRTimeouts;
  /** Circuit breaking and retries (BackendTrafficPolicy, HTTPRoute retry), when any. */
  traffic?: IRRouteTraffic;
}

export interface RouteRef {
  kind: 'HTTPRoute' | 'GRPCRoute' | string;
  namespace: string;
  name: string;
  rule: number;
  ruleName?: string;
}

export interface IRTimeouts {
  /** Whole request, gateway to client, in ms (504 beyond); 0 = none. */
  requestMs: number;
  /** One upstream attempt until response headers, in ms (504 beyond). */
  backendRequestMs: number;
}

export interface IRMatch {
  path: IRPathMatch;
  method?: string;
  headers: IRValueMatch[];
  query: IRValueMatch[];
}

export interface IRPathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value: string;
}

export interface IRValueMatch {
  /** Header names are lowercase; query parameter names are as written. */
  name: string;
  type: 'Exact' | 'RegularExpression';
  value: string;
}

export type { IRFilter, IRFilterConfigs, IRFilterType } from './filters.ts';
import type { IRFilter } from './filters.ts';

export type IRAction = IRProxyAction | IRRedirectAction | IRDirectResponseAction;

export interface IRProxyAction {
  type: 'proxy';
  backends: IRWeightedBackend[];
  rewrite?: IRUrlRewrite;
  mirrors: IRMirror[];
}

export interface IRWeightedBackend {
  /** Key into Snapshot.backends; null when the reference is invalid (its share answers 500). */
  backend: string | null;
  weight: number;
  /**
   * Filters of the destination hop, run after the route's chain once this backend
   * is picked (Istio: the destination workload's RequestAuthentication and
   * AuthorizationPolicy). Both hops must allow.
   */
  filters: IRFilter[];
  /** Header modifiers that apply only when this backend is picked. */
  requestHeaders?: IRHeaderModifier;
  responseHeaders?: IRHeaderModifier;
}

export interface IRHeaderModifier {
  set: { name: string; value: string }[];
  add: { name: string; value: string }[];
  remove: string[];
}

export interface IRUrlRewrite {
  hostname?: string;
  path?: { type: 'ReplaceFullPath'; value: string } | { type: 'ReplacePrefixMatch'; value: string };
}

export interface IRMirror {
  backend: string | null;
  /** 0–100 (fractions are converted). */
  percent: number;
}

export interface IRRedirectAction {
  type: 'redirect';
  scheme?: string;
  hostname?: string;
  port?: number;
  path?: { type: 'ReplaceFullPath'; value: string } | { type: 'ReplacePrefixMatch'; value: string };
  statusCode: number;
}

export interface IRDirectResponseAction {
  type: 'direct';
  status: number;
  body?: string;
  contentType?: string;
}

export interface IRBackend {
  id: string;
  /** "Service/ns/name:port" or "Backend/ns/name". */
  source: string;
  /** Labels of the Service/Backend (workload selectors of the mesh policies). */
  labels: Record<string, string>;
  namespace: string;
  endpoints: IREndpoint[];
  /** Speak TLS to the endpoints. */
  tls?: { sni?: string; caPem?: string; insecureSkipVerify?: boolean };
  /** 'h2': HTTP/2 to the endpoints — prior knowledge (h2c) without tls, ALPN with it (GRPCRoute, appProtocol h2c). Absent: HTTP/1.1. */
  protocol?: 'h2';
  /** Envoy Gateway Backend `fallback: true`: gets a route rule's traffic only while its other backends have no healthy replica. */
  fallback?: boolean;
}

export interface IREndpoint {
  /** IP address or DNS name. */
  host: string;
  port: number;
  ready: boolean;
}

export interface ResourceStatus {
  /** "Kind/ns/name". */
  object: string;
  /** False when any Accepted condition, top-level or per parent/ancestor, is False. */
  accepted: boolean;
  /** metadata.generation of the resource the status was computed from, when it has one. */
  observedGeneration?: number;
  /** Conditions about the resource as a whole. */
  conditions: StatusCondition[];
  /** Routes: one entry per parentRef (accepted on one Gateway, refused on another). */
  parents?: ParentStatus[];
  /** Policies: one entry per ancestor (the Gateway, or Gateway listener, a target hangs under). */
  ancestors?: ParentStatus[];
}

/** A Gateway (or one of its listeners) that a route attaches to or a policy hangs under. */
export interface ParentReference {
  kind: 'Gateway';
  namespace: string;
  name: string;
  sectionName?: string;
}

export interface ParentStatus {
  parentRef: ParentReference;
  conditions: StatusCondition[];
}

export interface StatusCondition {
  type: ConditionTypeName;
  status: 'True' | 'False';
  reason: ConditionReason;
  message: string;
}

export { ConditionType, Reason, type ConditionReason, type ConditionTypeName } from './status.ts';
import type { ConditionReason, ConditionTypeName } from './status.ts';
