// Header plumbing shared by both ext_authz clients and the decision that applies
// their result: what may be forwarded, what an authorization service may set.
import type { IncomingHttpHeaders } from 'node:http';
import type { RequestContext } from '../../core/request.ts';
import type { Decision } from '../../filters/types.ts';
import type { ExtAuthzConfig, ExtAuthzResult } from './types.ts';

/** Connection-level headers that never cross a hop (RFC 9110 §7.6.1). */
export const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'expect',
]);

const TOKEN = /^[!#$%&'*+\-.^_`|~0-9a-z]+$/;
const FIELD_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;

/** A header an authorization service may hand us: a valid lowercase token name and a value without CR/LF/NUL. */
export function isSafeHeader(name: string, value: string): boolean {
  return name.length > 0 && name.length <= 256 && TOKEN.test(name) && value.length <= 16384 && FIELD_VALUE.test(value);
}

/** The request's authority, normalized once by decide() (port included when sent). */
export function authorityOf(ctx: RequestContext): string {
  return ctx.authority;
}

/** Path and query as the upstream will see them. */
export function pathAndQuery(ctx: RequestContext): string {
  return ctx.query ? `${ctx.path}?${ctx.query}` : ctx.path;
}

/** Multiple values of one header merged the way Envoy presents them (comma-joined). */
export function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v.join(',') : v;
}

function mayMutate(name: string): boolean {
  // Pseudo-headers and Host describe the routed request; routing already happened.
  return !name.startsWith(':') && name !== 'host' && !HOP_BY_HOP.has(name);
}

/** Headers an authorization service may not put on our answer: framing is ours to write. */
function mayRelay(name: string): boolean {
  return name !== 'content-length' && name !== 'host' && !name.startsWith(':') && !HOP_BY_HOP.has(name);
}

function appendHeader(headers: IncomingHttpHeaders, name: string, value: string): void {
  const prev = headers[name];
  if (prev === undefined) headers[name] = value;
  else if (Array.isArray(prev)) prev.push(value);
  else headers[name] = name === 'set-cookie' ? [prev, value] : `${prev}, ${value}`;
}

/**
 * Turns an authorization result into the filter's decision, as Envoy's
 * ext_authz filter does: allow → mutate the upstream request and continue;
 * deny → relay the service's answer; error → failOpen decides, else statusOnError.
 */
export function applyExtAuthzResult(ctx: RequestContext, cfg: ExtAuthzConfig, result: ExtAuthzResult): Decision {
  if (result.kind === 'allow') {
    const h = ctx.headers;
    for (const name of result.upstreamRemove) if (mayMutate(name)) delete h[name];
    for (const [name, value] of result.upstreamSet) if (mayMutate(name)) h[name] = value;
    for (const [name, value] of result.upstreamAppend) if (mayMutate(name)) appendHeader(h, name, value);
    for (const [name, value] of result.responseHeaders) if (mayRelay(name)) ctx.addResponseHeader(name, value);
    return undefined;
  }
  if (result.kind === 'deny') {
    const headers: Record<string, string | string[]> = {};
    for (const [name, value] of result.headers) {
      if (!mayRelay(name)) continue;
      const prev = headers[name];
      if (prev === undefined) headers[name] = value;
      else if (Array.isArray(prev)) prev.push(value);
      else headers[name] = [prev, value];
    }
    return { status: result.status, headers, body: result.body };
  }
  if (cfg.failOpen) return undefined;
  return { status: cfg.statusOnError, body: '' };
}

/** A status the client may be given, or the fallback. */
export function usableStatus(code: unknown, fallback: number): number {
  return typeof code === 'number' && Number.isInteger(code) && code >= 200 && code <= 599 ? code : fallback;
}
