// The request context: everything a filter may read or change about one
// request. The bottom layer (filters/, authz/ and auth/ import it, never
// dataplane/); deliberately independent of the socket objects, so that
// `decide()` runs the same way for the listener, `portcullis explain` and tests.
import type { DryRunDecision } from '../policy/dry-run.ts';
import type { IncomingHttpHeaders } from 'node:http';
import type { IRHeaderModifier, IRRoute } from '../ir/types.ts';
import type { TraceEntry } from './trace.ts';
import type { ReplyOverrides } from './replies.ts';

/** The request body as read before the decision (a filter's needsBody, see filters/types.ts). */
export interface BufferedBody {
  bytes: Buffer;
  /** The body is longer than `bytes`: the rest still streams upstream after it. */
  partial: boolean;
}

/** The TLS facts of the downstream connection that policies may look at. */
export interface TlsInfo {
  sni?: string;
  /** The peer certificate was presented and verified against the trust bundle. */
  peerVerified: boolean;
  /** URI SANs of the verified peer certificate (SPIFFE ids among them). */
  peerUris: string[];
  /** DER of the peer certificate (for forwarding / explain). */
  peerCertDer?: Buffer;
  /** The verified client's chain, leaf first (XFCC Chain), when the listener forwards it. */
  peerChainDer?: readonly Buffer[];
  /** Istio identity from the verified certificate's SPIFFE URI SAN. */
  peerIdentity?: { principal: string; namespace: string };
  /** ClientTrafficPolicy tls.fingerprints: the connection's ClientHello fingerprints, those its listener asks for. */
  ja3?: string;
  ja4?: string;
}

/** Who the caller turned out to be, filled in by the authentication filters. */
export interface Identity {
  /** mTLS peer: "<trust-domain>/ns/<ns>/sa/<sa>". */
  principal?: string;
  /** Namespace from the peer's SPIFFE id. */
  sourceNamespace?: string;
  /** JWT: "<iss>/<sub>". */
  requestPrincipal?: string;
  claims?: Record<string, unknown>;
  audiences?: string[];
  presenter?: string;
  /** API key / basic auth client id. */
  consumer?: string;
  /** Envoy Gateway SecurityPolicy: name of the jwt provider that verified the token. */
  jwtProvider?: string;
}

/** What routing settled on, as far as filters and the access log need it. */
export interface RouteInfo {
  id: string;
  label: string;
  ir: IRRoute;
  /** The route's responseOverride (BackendTrafficPolicy), compiled; absent when it has none. */
  overrides?: ReplyOverrides;
}

/**
 * What the decision knows when a request starts: the context's own fields (documented
 * there). decide() passes its RequestFacts as they are (no second object per request)
 * and then sets the fields it derives; explain and tests may give those here.
 */
export type RequestInit = Pick<RequestContext, 'method' | 'port' | 'scheme' | 'headers' | 'remoteIp' | 'localIp' | 'tls'>
  & Partial<Pick<RequestContext, 'host' | 'authority' | 'path' | 'query' | 'clientIp' | 'requestId' | 'startMs'>>
  & {
    /** Record every decision (debug log, explain), not only denials. */
    tracing: boolean;
  };

export class RequestContext {
  method: string;
  /**
   * The authority's host: lowercase, no port, no brackets around an IPv6
   * literal, no trailing dot. Routing, authorization, rate-limit keys and
   * explain all read this (and `authority`), computed once in decide().
   */
  host: string;
  /** The normalized authority, host[:port] as sent ("[::1]:8080" for IPv6); '' when absent. */
  authority: string;
  /** Port the request arrived on (the listener's). */
  port: number;
  scheme: 'http' | 'https';
  /** Normalized path, no query: the one used for routing and authorization. */
  path: string;
  /** Raw query string without '?', '' when absent. */
  query: string;
  /**
   * Request headers, lowercase names. Filters mutate this object; after the chain
   * it becomes the upstream request's headers (hop-by-hop ones removed).
   */
  headers: IncomingHttpHeaders;
  /** Client address after trusted-proxy processing (X-Forwarded-For). */
  clientIp: string;
  /** Address of the directly connected peer. */
  remoteIp: string;
  /** Local address the connection arrived on. */
  localIp: string;
  tls: TlsInfo | undefined;
  requestId: string;
  identity: Identity;
  route: RouteInfo | undefined;
  /** Extra headers for the client's response, added by filters (e.g. CORS, ext_authz). */
  responseHeaders: Record<string, string | string[]> | undefined;
  /** null unless the decision trace is being recorded (debug log, explain). */
  trace: TraceEntry[] | null;
  /** Per-request values for filters that need to keep state between request and response. */
  scratch: Map<string, unknown> | undefined;
  /** The body read before the decision, when a filter of the chain asked for it (needsBody). */
  body: BufferedBody | undefined;
  /** Would-be decisions of dry-run policies (src/policy/dry-run.ts); logged and counted, never enforced. */
  dryRun: DryRunDecision[] | undefined;
  /** performance.now() at arrival (a double: no BigInt allocated per request); now when not given (explain). */
  startMs: number;
  /** The listener's ClientTrafficPolicy headers.lateResponseHeaders: applied to every answer last. */
  lateHeaders: IRHeaderModifier | undefined;

  constructor(init: RequestInit) {
    this.method = init.method;
    this.host = init.host ?? '';
    this.authority = init.authority ?? this.host;
    this.port = init.port;
    this.scheme = init.scheme;
    this.path = init.path ?? '';
    this.query = init.query ?? '';
    this.headers = init.headers;
    this.clientIp = init.clientIp ?? init.remoteIp;
    this.remoteIp = init.remoteIp;
    this.localIp = init.localIp;
    this.tls = init.tls;
    this.requestId = init.requestId ?? '';
    const peer = init.tls?.peerIdentity;
    this.identity = peer ? { principal: peer.principal, sourceNamespace: peer.namespace } : {};
    this.route = undefined;
    this.responseHeaders = undefined;
    this.trace = init.tracing ? [] : null;
    this.scratch = undefined;
    this.body = undefined;
    this.dryRun = undefined;
    this.startMs = init.startMs ?? performance.now();
    this.lateHeaders = undefined;
  }

  /** The port the authority names, undefined when it names none (read on demand: most requests never ask). */
  get authorityPort(): number | undefined {
    const a = this.authority;
    const colon = a.indexOf(':', a.charCodeAt(0) === 91 /* [ */ ? a.indexOf(']') : 0);
    return colon < 0 ? undefined : Number(a.slice(colon + 1));
  }

  /** Record a decision step. Denials are always kept (the access log shows why). */
  record(entry: TraceEntry): void {
    if (this.trace) this.trace.push(entry);
    else if (entry.decision === 'deny' || entry.decision === 'error') this.trace = [entry];
  }

  addResponseHeader(name: string, value: string): void {
    const h = (this.responseHeaders ??= {});
    const prev = h[name];
    if (prev === undefined) h[name] = value;
    else if (Array.isArray(prev)) prev.push(value);
    else h[name] = [prev, value];
  }

  /** Value of the first query parameter with this name (decoded), or undefined. */
  queryParam(name: string): string | undefined {
    if (!this.query) return undefined;
    return new URLSearchParams(this.query).get(name) ?? undefined;
  }
}
