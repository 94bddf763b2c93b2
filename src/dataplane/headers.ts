// Header plumbing shared by both directions of the proxy.
import type { IncomingHttpHeaders } from 'node:http';

/** Hop-by-hop headers (RFC 9110 §7.6.1) and the proxy-era ones gateways strip too. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'http2-settings',
  // The gateway answers 100-continue itself (expect.ts); a backend is never asked.
  'expect',
]);

export function isHopByHop(name: string): boolean {
  return HOP_BY_HOP.has(name);
}

/**
 * Copy headers once, dropping hop-by-hop ones, HTTP/2 pseudo-headers and any
 * header the Connection header names.
 */
export function copyEndToEnd(src: Record<string, string | string[] | undefined>, connection: string | undefined): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  let extra: Set<string> | undefined;
  if (connection) {
    for (const t of connection.split(',')) {
      const n = t.trim().toLowerCase();
      if (n && n !== 'close' && n !== 'keep-alive') (extra ??= new Set()).add(n);
    }
  }
  for (const name in src) {
    const v = src[name];
    if (v === undefined || name.charCodeAt(0) === 58 /* : */ || HOP_BY_HOP.has(name)) continue;
    if (extra?.has(name)) continue;
    out[name] = v;
  }
  return out;
}

export function headerString(h: IncomingHttpHeaders, name: string): string | undefined {
  const v = h[name];
  return typeof v === 'string' ? v : Array.isArray(v) ? v.join(', ') : undefined;
}
