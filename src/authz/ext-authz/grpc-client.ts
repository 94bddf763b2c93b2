// Envoy's gRPC ext_authz protocol (envoy.service.auth.v3.Authorization/Check),
// client side, with @grpc/grpc-js.
//
// The CheckRequest carries what Envoy sends by default: source and destination
// addresses, the peer's principal, and the HTTP request (id, method, every
// header — pseudo-headers included, no allow-list for gRPC — path with query,
// host, scheme, protocol). status OK allows: ok_response.headers are set (or
// appended when append is true) on the upstream request, headers_to_remove are
// stripped and response_headers_to_add go to the client. Any other status
// denies with denied_response (403 when absent). A failed call or a deadline
// is an error.
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { RequestContext } from '../../core/request.ts';
import { authorityOf, headerValue, isSafeHeader, pathAndQuery, usableStatus } from './headers.ts';
import { SharedClients, ClientRing, hostPort } from './shared-clients.ts';
import type { ExtAuthzGrpcConfig, ExtAuthzResult } from './types.ts';

// Envoy's ext_authz protos (a subset, Apache-2.0), kept as third-party files: not ours to edit.
const PROTO_DIR = fileURLToPath(new URL('./third_party/', import.meta.url));
export const EXTERNAL_AUTH_PROTO = 'envoy/service/auth/v3/external_auth.proto';

/** Loader options shared with test servers, so both sides see the same shapes. */
export const PROTO_OPTIONS: protoLoader.Options = {
  includeDirs: [PROTO_DIR],
  keepCase: true,
  longs: Number,
  enums: Number,
  defaults: false,
  oneofs: true,
};

type AuthorizationClient = grpc.Client & {
  Check(req: unknown, meta: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res?: CheckResponse) => void): grpc.ClientUnaryCall;
};

interface HeaderValueOption {
  header?: { key?: string; value?: string };
  append?: { value?: boolean };
}

interface CheckResponse {
  status?: { code?: number };
  denied_response?: { status?: { code?: number }; headers?: HeaderValueOption[]; body?: string };
  ok_response?: { headers?: HeaderValueOption[]; headers_to_remove?: string[]; response_headers_to_add?: HeaderValueOption[] };
}

let authorizationService: grpc.ServiceClientConstructor | undefined;

/** The loaded Authorization service definition (lazily, once per process). */
export function authorizationServiceDefinition(): grpc.ServiceClientConstructor {
  if (!authorizationService) {
    const def = protoLoader.loadSync(EXTERNAL_AUTH_PROTO, PROTO_OPTIONS);
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
    };
    authorizationService = pkg.envoy.service.auth.v3.Authorization;
  }
  return authorizationService;
}

const channels = new SharedClients<AuthorizationClient>(
  (target) => {
    const Ctor = authorizationServiceDefinition();
    return new Ctor(target, grpc.credentials.createInsecure(), {
      'grpc.keepalive_time_ms': 30_000,
      'grpc.max_receive_message_length': 1024 * 1024,
    }) as unknown as AuthorizationClient;
  },
  (client) => client.close(),
);

/** Targets with an open channel (for /debug and tests). */
export function openGrpcAuthzTargets(): string[] {
  return channels.keys();
}

export class GrpcExtAuthzClient {
  readonly #cfg: ExtAuthzGrpcConfig;
  readonly #clients: ClientRing<AuthorizationClient>;

  constructor(cfg: ExtAuthzGrpcConfig) {
    if (cfg.endpoints.length === 0) throw new Error(`ext_authz ${cfg.name}: no endpoints`);
    this.#cfg = cfg;
    this.#clients = new ClientRing(channels, cfg.endpoints.map((e) => hostPort(e.host, e.port)));
  }

  close(): void {
    this.#clients.close();
  }

  check(ctx: RequestContext): Promise<ExtAuthzResult> {
    const client = this.#clients.next();
    const request = checkRequest(ctx, this.#cfg);
    return new Promise((resolve) => {
      try {
        client.Check(request, new grpc.Metadata(), { deadline: Date.now() + this.#cfg.timeoutMs }, (err, res) => {
          if (err || !res) {
            resolve({ kind: 'error', reason: grpcErrorReason(err) });
            return;
          }
          resolve(toResult(res));
        });
      } catch {
        resolve({ kind: 'error', reason: 'authorization check failed' });
      }
    });
  }
}

function grpcErrorReason(err: grpc.ServiceError | null): string {
  if (!err) return 'authorization service sent no response';
  if (err.code === grpc.status.DEADLINE_EXCEEDED) return 'authorization service timed out';
  if (err.code === grpc.status.UNAVAILABLE) return 'authorization service unavailable';
  return `authorization check failed (gRPC status ${err.code})`;
}

function checkRequest(ctx: RequestContext, cfg: ExtAuthzGrpcConfig): unknown {
  const authority = authorityOf(ctx);
  const path = pathAndQuery(ctx);
  // Envoy hands the service its internal header map: pseudo-headers included, Host as :authority.
  const headers: Record<string, string> = {
    ':authority': authority,
    ':method': ctx.method,
    ':path': path,
    ':scheme': ctx.scheme,
  };
  for (const name in ctx.headers) {
    if (name === 'host' || name.startsWith(':')) continue;
    const v = headerValue(ctx.headers[name]);
    if (v !== undefined) headers[name] = v;
  }
  const now = Date.now();
  const contentLength = Number(headerValue(ctx.headers['content-length']));
  const peer = ctx.tls?.peerVerified ? ctx.tls.peerUris[0] : undefined;
  return {
    attributes: {
      source: {
        address: { socket_address: { address: ctx.remoteIp, port_value: 0 } },
        ...(peer ? { principal: peer } : {}),
      },
      destination: {
        address: { socket_address: { address: ctx.localIp, port_value: ctx.port } },
      },
      request: {
        time: { seconds: Math.floor(now / 1000), nanos: (now % 1000) * 1e6 },
        http: {
          id: headerValue(ctx.headers['x-request-id']) ?? ctx.requestId,
          method: ctx.method,
          headers,
          path,
          host: authority,
          scheme: ctx.scheme,
          size: Number.isFinite(contentLength) && contentLength >= 0 ? contentLength : -1,
          protocol: ctx.headers[':authority'] !== undefined ? 'HTTP/2' : 'HTTP/1.1',
          ...bodyFields(ctx, cfg),
        },
      },
    },
  };
}

/** includeBody: the body read before the decision, as Envoy packs it (UTF-8 string, or raw bytes). */
function bodyFields(ctx: RequestContext, cfg: ExtAuthzGrpcConfig): Record<string, unknown> {
  const b = cfg.includeBody && ctx.body;
  if (!b) return {};
  return cfg.includeBody!.packAsBytes ? { raw_body: b.bytes } : { body: b.bytes.toString('utf8') };
}

function pairsOf(options: HeaderValueOption[] | undefined, onAppend?: [string, string][]): [string, string][] {
  const out: [string, string][] = [];
  if (!Array.isArray(options)) return out;
  for (const o of options) {
    const key = typeof o?.header?.key === 'string' ? o.header.key.toLowerCase() : '';
    const value = typeof o?.header?.value === 'string' ? o.header.value : '';
    if (!isSafeHeader(key, value)) continue;
    // In ext_authz messages `append` defaults to false: set, replacing what is there.
    if (onAppend && o.append?.value === true) onAppend.push([key, value]);
    else out.push([key, value]);
  }
  return out;
}

function toResult(res: CheckResponse): ExtAuthzResult {
  if ((res.status?.code ?? 0) === grpc.status.OK) {
    const ok = res.ok_response;
    const upstreamAppend: [string, string][] = [];
    const upstreamSet = pairsOf(ok?.headers, upstreamAppend);
    const upstreamRemove = Array.isArray(ok?.headers_to_remove)
      ? ok.headers_to_remove.filter((n) => typeof n === 'string' && n.length > 0).map((n) => n.toLowerCase())
      : [];
    return { kind: 'allow', upstreamSet, upstreamAppend, upstreamRemove, responseHeaders: pairsOf(ok?.response_headers_to_add) };
  }
  const denied = res.denied_response;
  if (!denied) return { kind: 'deny', status: 403, headers: [], body: '' };
  return {
    kind: 'deny',
    status: usableStatus(denied.status?.code, 403),
    headers: pairsOf(denied.headers),
    body: typeof denied.body === 'string' ? denied.body : '',
  };
}
