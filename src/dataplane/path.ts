// Path normalization, done once per request before routing: the same
// normalized path is used for routing, for authorization and upstream, so
// that the two can never disagree (a disagreement is a bypass).
// Modes are Istio's (meshConfig.pathNormalization): NONE, BASE (RFC 3986
// normalization, Envoy's normalize_path, with backslashes as slashes),
// MERGE_SLASHES, DECODE_AND_MERGE_SLASHES (%2F and %5C decoded first), and
// DECODE_SLASHES (decoded, not merged: a ClientTrafficPolicy's path settings).
import type { ListenerPathNormalization as PathNormalization } from '../ir/types.ts';

export interface SplitTarget {
  /** Normalized path, starting with "/". */
  path: string;
  /** Query without "?", "" when absent. */
  query: string;
}

const HEX = '0123456789ABCDEF';

function isUnreserved(c: number): boolean {
  return (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e;
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Split a request target into normalized path and raw query.
 * Returns null for a target that cannot be served (400).
 */
export function splitTarget(target: string, mode: PathNormalization): SplitTarget | null {
  let end = target.length;
  const hash = target.indexOf('#');
  if (hash >= 0) end = hash; // fragments never reach matching
  const q = target.indexOf('?');
  let path: string;
  let query: string;
  if (q >= 0 && q < end) {
    path = target.slice(0, q);
    query = target.slice(q + 1, end);
  } else {
    path = end === target.length ? target : target.slice(0, end);
    query = '';
  }
  if (path.charCodeAt(0) !== 47 /* / */) {
    // absolute-form (proxy requests): keep only the path part
    const m = /^[a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^/]*(\/.*)?$/.exec(path);
    if (!m) return null;
    path = m[1] ?? '/';
  }
  if (mode === 'NONE') return { path, query };
  const normalized = normalizePath(path, mode);
  return normalized === null ? null : { path: normalized, query };
}

/** Normalize an absolute path. null when it has invalid escapes or control characters. */
export function normalizePath(path: string, mode: Exclude<PathNormalization, 'NONE'>): string | null {
  const merge = mode === 'MERGE_SLASHES' || mode === 'DECODE_AND_MERGE_SLASHES';
  const decodeSlashes = mode === 'DECODE_AND_MERGE_SLASHES' || mode === 'DECODE_SLASHES';
  // Fast path: nothing to do for the common plain path.
  let plain = true;
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c === 0x25 /* % */ || c === 0x5c /* \ */ || c <= 0x20 || c === 0x7f) { plain = false; break; }
    if (c === 0x2e /* . */ && path.charCodeAt(i - 1) === 47) { plain = false; break; }
    if (merge && c === 47 && path.charCodeAt(i + 1) === 47) { plain = false; break; }
  }
  if (plain) return path;

  // 1. percent-decoding of unreserved characters (and, when asked, of / and \),
  //    uppercase hex for the escapes that stay; backslash becomes slash.
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return null;
    if (c === 0x25) {
      const h = hexVal(path.charCodeAt(i + 1));
      const l = hexVal(path.charCodeAt(i + 2));
      if (h < 0 || l < 0) return null;
      const v = h * 16 + l;
      i += 2;
      // An encoded NUL is never a path character: refused, as Envoy and Istio do.
      if (v === 0) return null;
      if (isUnreserved(v)) out += String.fromCharCode(v);
      else if (decodeSlashes && (v === 0x2f || v === 0x5c)) out += '/';
      else out += '%' + HEX[h] + HEX[l];
      continue;
    }
    out += c === 0x5c ? '/' : path[i];
  }
  // 2. merge slashes
  if (merge) out = out.replace(/\/{2,}/g, '/');
  // 3. remove dot segments (RFC 3986 5.2.4)
  return removeDotSegments(out);
}

function removeDotSegments(path: string): string {
  const segs = path.split('/');
  const out: string[] = [];
  // segs[0] is "" (path starts with "/")
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i];
    const last = i === segs.length - 1;
    if (s === '.') {
      if (last) out.push('');
    } else if (s === '..') {
      if (out.length > 0) out.pop();
      if (last) out.push('');
    } else out.push(s);
  }
  return '/' + out.join('/');
}

/** Whether the path part of a request target has an escaped slash or backslash (%2F, %5C, any case). */
export function hasEscapedSlash(target: string): boolean {
  let end = target.length;
  const q = target.indexOf('?');
  if (q >= 0) end = q;
  const hash = target.indexOf('#');
  if (hash >= 0 && hash < end) end = hash;
  for (let i = target.indexOf('%'); i >= 0 && i < end; i = target.indexOf('%', i + 1)) {
    const h = target.charCodeAt(i + 1);
    const l = target.charCodeAt(i + 2) | 0x20; // lower case
    if ((h === 0x32 && l === 0x66) || (h === 0x35 && l === 0x63)) return true;
  }
  return false;
}
