// A JWKS fetched through a backendRef (SecurityPolicy remoteJWKS.backendRefs,
// as Envoy Gateway builds a cluster for it): the connection goes to the
// backend's endpoints, the request keeps the uri's path and Host, and TLS
// (an https uri, or a Backend with tls) verifies the uri's host unless the
// backend names another SNI. Endpoints are tried in turn, up to `attempts`
// (1 + backendSettings.retry.numRetries), each fetch starting one further.
import { Agent, request } from 'undici';
import type { JwksVia } from '../../ir/jwt.ts';
import type { FetchJsonOptions, FetchJsonResult } from './fetch.ts';

const nextStart = new WeakMap<JwksVia, number>();

export async function fetchJsonVia(uri: string, via: JwksVia, opts: FetchJsonOptions, maxBytes: number): Promise<FetchJsonResult> {
  let target: URL;
  try {
    target = new URL(uri);
  } catch {
    return { ok: false, reason: 'uri is not a URL' };
  }
  if (via.endpoints.length === 0) return { ok: false, reason: 'the backend has no ready endpoint' };
  const secure = target.protocol === 'https:' || via.tls !== undefined;
  const agent = new Agent({
    connect: {
      timeout: via.connectTimeoutMs ?? opts.timeoutMs,
      ...(secure ? { servername: via.tls?.sni ?? target.hostname, rejectUnauthorized: via.tls?.insecureSkipVerify !== true, ...(via.tls?.caPem ? { ca: via.tls.caPem } : {}) } : {}),
    },
  });
  const deadline = Date.now() + opts.timeoutMs;
  let last: FetchJsonResult = { ok: false, reason: 'not attempted' };
  try {
    const attempts = Math.max(1, via.attempts);
    // Each fetch starts at the next endpoint (fetches are rare: once per cacheDuration, or after a failure).
    const start = nextStart.get(via) ?? 0;
    nextStart.set(via, (start + 1) % via.endpoints.length);
    for (let i = 0; i < attempts; i++) {
      const left = deadline - Date.now();
      if (left <= 0) return { ok: false, reason: `timed out after ${opts.timeoutMs} ms` };
      const ep = via.endpoints[(start + i) % via.endpoints.length];
      const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
      last = await once(agent, `${secure ? 'https' : 'http'}://${host}:${ep.port}${target.pathname}${target.search}`, target.host, left, opts.signal, maxBytes, opts.timeoutMs);
      if (last.ok || opts.signal?.aborted) return last;
    }
    return last;
  } finally {
    void agent.close().catch(() => {});
  }
}

/** `budgetMs`: the whole fetch's timeout, which a timeout reports (timeoutMs is what is left of it). */
async function once(agent: Agent, url: string, host: string, timeoutMs: number, outer: AbortSignal | undefined, maxBytes: number, budgetMs: number): Promise<FetchJsonResult> {
  const timeout = AbortSignal.timeout(Math.max(1, timeoutMs));
  const signal = outer ? AbortSignal.any([timeout, outer]) : timeout;
  try {
    const res = await request(url, { dispatcher: agent, method: 'GET', headers: { host, accept: 'application/json' }, signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    if (res.statusCode !== 200) {
      res.body.dump().catch(() => {});
      return { ok: false, reason: `HTTP status ${res.statusCode}` };
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of res.body) {
      size += (chunk as Buffer).length;
      if (size > maxBytes) {
        res.body.destroy();
        return { ok: false, reason: `body larger than ${maxBytes} bytes` };
      }
      chunks.push(chunk as Buffer);
    }
    try {
      return { ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) };
    } catch {
      return { ok: false, reason: 'body is not JSON' };
    }
  } catch (err) {
    if (timeout.aborted) return { ok: false, reason: `timed out after ${budgetMs} ms` };
    if (outer?.aborted) return { ok: false, reason: 'aborted' };
    const code = (err as { code?: string }).code;
    return { ok: false, reason: code ? `request failed (${code})` : 'request failed' };
  }
}
