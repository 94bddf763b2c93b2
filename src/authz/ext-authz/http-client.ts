// Envoy's raw HTTP ext_authz protocol, client side.
//
// The check request repeats the client's method, with path_prefix + the
// original path and query, Host as the client sent it, and no body
// (Content-Length: 0) unless the provider includes it (includeBody: the body
// read before the decision, with x-envoy-auth-partial-body); headers are
// Authorization plus those allowed by allowedHeaders, then headersToAdd on
// top. The answer: 200 allows (allowedUpstreamHeaders are copied onto the
// upstream request, x-envoy-auth-headers-to-remove lists headers to strip,
// allowedClientHeadersOnSuccess go to the client); 5xx or no answer is an
// error; any other status denies, relayed with its body and the
// allowedClientHeaders (all but Host when that list is empty).
import { Pool } from '../../upstream/undici-pool.ts';
import type { RequestContext } from '../../core/request.ts';
import { compileStringMatcher, type StringPredicate } from '../string-match.ts';
import { HOP_BY_HOP, authorityOf, isSafeHeader, pathAndQuery, headerValue, usableStatus } from './headers.ts';
import { SharedClients, ClientRing, hostPort } from './shared-clients.ts';
import type { ExtAuthzHttpConfig, ExtAuthzResult } from './types.ts';

/** Largest authorization response body we read (a deny body is relayed to the client). */
const MAX_BODY_BYTES = 64 * 1024;
const HEADERS_TO_REMOVE = 'x-envoy-auth-headers-to-remove';
/** Added to the client-header allow list whenever that list is configured (Envoy). */
const DENY_DEFAULT_CLIENT_HEADERS = new Set(['www-authenticate', 'location']);

const pools = new SharedClients<Pool>(
  (origin) => new Pool(origin, { connections: 64, keepAliveTimeout: 30_000 }),
  (pool) => void pool.close().catch(() => {}),
);

/** Origins with an open pool (for /debug and tests). */
export function openHttpAuthzOrigins(): string[] {
  return pools.keys();
}

export class HttpExtAuthzClient {
  readonly #cfg: ExtAuthzHttpConfig;
  readonly #pools: ClientRing<Pool>;
  readonly #allowed: StringPredicate;
  readonly #upstream: StringPredicate;
  readonly #client: StringPredicate | undefined;
  readonly #clientOnSuccess: StringPredicate;

  constructor(cfg: ExtAuthzHttpConfig) {
    if (cfg.endpoints.length === 0) throw new Error(`ext_authz ${cfg.name}: no endpoints`);
    this.#cfg = cfg;
    this.#pools = new ClientRing(pools, cfg.endpoints.map((e) => `http://${hostPort(e.host, e.port)}`));
    this.#allowed = compileStringMatcher(cfg.allowedHeaders, { ignoreCase: true });
    this.#upstream = compileStringMatcher(cfg.allowedUpstreamHeaders, { ignoreCase: true });
    this.#client = cfg.allowedClientHeaders.length > 0 ? compileStringMatcher(cfg.allowedClientHeaders, { ignoreCase: true }) : undefined;
    this.#clientOnSuccess = compileStringMatcher(cfg.allowedClientHeadersOnSuccess, { ignoreCase: true });
  }

  close(): void {
    this.#pools.close();
  }

  async check(ctx: RequestContext): Promise<ExtAuthzResult> {
    const cfg = this.#cfg;
    const pool = this.#pools.next();
    const headers = this.#checkHeaders(ctx);
    // With includeBody, the body read before the decision goes along, flagged as Envoy does.
    const sent = cfg.includeBody && ctx.body ? ctx.body : undefined;
    if (sent) {
      headers['x-envoy-auth-partial-body'] = sent.partial ? 'true' : 'false';
      headers['content-length'] = String(sent.bytes.length);
    }
    let res;
    try {
      res = await pool.request({
        method: ctx.method,
        path: cfg.pathPrefix + pathAndQuery(ctx),
        headers,
        body: sent ? sent.bytes : null,
        signal: AbortSignal.timeout(cfg.timeoutMs),
        headersTimeout: cfg.timeoutMs,
        bodyTimeout: cfg.timeoutMs,
      });
    } catch (err) {
      return { kind: 'error', reason: describeError(err) };
    }
    const status = res.statusCode;
    if (status >= 500) {
      res.body.dump().catch(() => {});
      return { kind: 'error', reason: `authorization service answered ${status}` };
    }
    const pairs = responsePairs(res.headers);
    if (status === 200) {
      res.body.dump().catch(() => {});
      return this.#allowResult(pairs);
    }
    let body: string;
    try {
      body = await readBounded(res.body, MAX_BODY_BYTES);
    } catch (err) {
      const tooLarge = (err as { code?: unknown })?.code === 'BODY_TOO_LARGE';
      return { kind: 'error', reason: tooLarge ? `authorization response body larger than ${MAX_BODY_BYTES} bytes` : describeError(err) };
    }
    const relayed: [string, string][] = [];
    for (const [name, value] of pairs) {
      if (name === HEADERS_TO_REMOVE || name === 'host' || name === 'content-length' || HOP_BY_HOP.has(name)) continue;
      if (this.#client && !this.#client(name) && !DENY_DEFAULT_CLIENT_HEADERS.has(name)) continue;
      relayed.push([name, value]);
    }
    return { kind: 'deny', status: usableStatus(status, 403), headers: relayed, body };
  }

  #checkHeaders(ctx: RequestContext): Record<string, string> {
    const out: Record<string, string> = {};
    const src = ctx.headers;
    for (const name in src) {
      if (name.startsWith(':') || name === 'host' || name === 'content-length' || HOP_BY_HOP.has(name)) continue;
      if (name !== 'authorization' && !this.#allowed(name)) continue;
      const v = headerValue(src[name]);
      if (v !== undefined) out[name] = v;
    }
    out.host = authorityOf(ctx);
    out['content-length'] = '0';
    for (const { name, value } of this.#cfg.headersToAdd) out[name.toLowerCase()] = value;
    return out;
  }

  #allowResult(pairs: [string, string][]): ExtAuthzResult {
    const upstreamSet: [string, string][] = [];
    const upstreamRemove: string[] = [];
    const responseHeaders: [string, string][] = [];
    for (const [name, value] of pairs) {
      if (name === HEADERS_TO_REMOVE) {
        for (const n of value.split(',')) {
          const t = n.trim().toLowerCase();
          if (t) upstreamRemove.push(t);
        }
        continue;
      }
      if (this.#upstream(name)) upstreamSet.push([name, value]);
      if (this.#clientOnSuccess(name)) responseHeaders.push([name, value]);
    }
    return { kind: 'allow', upstreamSet, upstreamAppend: [], upstreamRemove, responseHeaders };
  }
}

/** The answer's headers as safe (name, value) pairs; unsafe ones are dropped. */
function responsePairs(headers: Record<string, string | string[] | undefined>): [string, string][] {
  const out: [string, string][] = [];
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    const lname = name.toLowerCase();
    for (const value of Array.isArray(v) ? v : [v]) if (isSafeHeader(lname, value)) out.push([lname, value]);
  }
  return out;
}

async function readBounded(body: AsyncIterable<Buffer | Uint8Array> & { destroy(err?: Error): unknown }, max: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      throw Object.assign(new Error('oversized'), { code: 'BODY_TOO_LARGE' });
    }
    chunks.push(Buffer.from(chunk));
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * A short reason for the trace: error codes and names only. Messages are left
 * out on purpose: a client library may quote a header it refused, and the
 * request's headers carry credentials.
 */
export function describeError(err: unknown): string {
  if (err && typeof err === 'object') {
    const e = err as { name?: unknown; code?: unknown };
    const code = typeof e.code === 'string' && /^[A-Z0-9_]{1,64}$/.test(e.code) ? e.code : undefined;
    if (e.name === 'TimeoutError' || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return 'authorization service timed out';
    }
    if (e.name === 'AbortError') return 'authorization check aborted';
    if (code === 'UND_ERR_INVALID_ARG') return 'authorization check not sent: the request cannot be forwarded as is';
    if (code?.startsWith('E')) return `authorization service unreachable (${code})`;
    if (code) return `authorization check failed (${code})`;
    if (typeof e.name === 'string' && /^[A-Za-z]{1,40}$/.test(e.name)) return `authorization check failed (${e.name})`;
  }
  return 'authorization check failed';
}
