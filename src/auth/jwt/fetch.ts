// One bounded GET of a JSON document (JWKS, OpenID discovery). Every failure
// mode — refused, slow, huge, redirected, not JSON — comes back as a reason,
// never as a throw, and never takes longer than the timeout.

import type { JwksVia } from '../../ir/jwt.ts';
import { fetchJsonVia } from './fetch-via.ts';

export type FetchJsonResult = { ok: true; value: unknown } | { ok: false; reason: string };

export interface FetchJsonOptions {
  timeoutMs: number;
  /** Largest accepted body; JWKS documents are small. */
  maxBytes?: number;
  /** Aborts the fetch early (the source was disposed). */
  signal?: AbortSignal;
  /** Through a backendRef's endpoints rather than the uri's host (fetch-via.ts). */
  via?: JwksVia;
}

const DEFAULT_MAX_BYTES = 1 << 20;

export async function fetchJson(uri: string, opts: FetchJsonOptions): Promise<FetchJsonResult> {
  const maxBytes = opts.maxBytes ?? DEFAULT_MAX_BYTES;
  if (opts.via) return fetchJsonVia(uri, opts.via, opts, maxBytes);
  const timeout = AbortSignal.timeout(Math.max(1, opts.timeoutMs));
  const signal = opts.signal ? AbortSignal.any([timeout, opts.signal]) : timeout;
  try {
    // Envoy's JWKS fetcher does not follow redirects; neither do we (a redirect could point anywhere).
    const res = await fetch(uri, { signal, redirect: 'error', headers: { accept: 'application/json' } });
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, reason: `HTTP status ${res.status}` };
    }
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > maxBytes) {
      await res.body?.cancel().catch(() => {});
      return { ok: false, reason: `body larger than ${maxBytes} bytes` };
    }
    const chunks: Uint8Array[] = [];
    let size = 0;
    if (res.body) {
      for await (const chunk of res.body) {
        size += chunk.length;
        if (size > maxBytes) return { ok: false, reason: `body larger than ${maxBytes} bytes` };
        chunks.push(chunk);
      }
    }
    const text = Buffer.concat(chunks).toString('utf8');
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false, reason: 'body is not JSON' };
    }
  } catch (err) {
    if (timeout.aborted) return { ok: false, reason: `timed out after ${opts.timeoutMs} ms` };
    if (opts.signal?.aborted) return { ok: false, reason: 'aborted' };
    const cause = (err as { cause?: { code?: string } }).cause;
    return { ok: false, reason: cause?.code ? `request failed (${cause.code})` : 'request failed' };
  }
}
