// The request's authority (Host, or HTTP/2 :authority), validated and
// normalized once, in decide(): routing, authorization (hosts/notHosts, header
// conditions on :authority/host), ext_authz, the JWT realm, rate-limit keys and
// explain all read the result, never the raw header — a header read two ways
// is a bypass (Host: [admin.example.com] once routed to admin.example.com while
// a hosts rule compared the raw text).
//
// Accepted: a reg-name of letters, digits, '-', '.', '_', '~' (lowercased, one
// trailing dot dropped), an IPv4 address, or an IPv6 literal in brackets;
// optionally ':' and a port 0-65535 (leading zeros dropped, an empty port
// dropped). Anything else — brackets around anything but an IPv6 literal,
// userinfo, spaces, '%', a list — is a 400, as RFC 9110 §7.2 / RFC 3986 §3.2.2
// allow no other form.
import type { IncomingHttpHeaders } from 'node:http';
import { isIPv6 } from 'node:net';

/** The normalized authority: '' when the request names none, null when it is malformed (400). */
export function requestAuthority(headers: IncomingHttpHeaders): string | null {
  const host = headers.host;
  const pseudo = headers[':authority'];
  if (host === undefined) {
    if (pseudo === undefined) return '';
    return typeof pseudo === 'string' ? normalizeAuthority(pseudo) : null;
  }
  if (typeof host !== 'string') return null;
  const a = normalizeAuthority(host);
  // HTTP/2 with both: RFC 9113 §8.3.1 says they must name the same thing.
  if (pseudo !== undefined && a !== null && (typeof pseudo !== 'string' || normalizeAuthority(pseudo) !== a)) return null;
  return a;
}

const MAX_PORT = 65535;

/** Validate and normalize one authority value (see the file comment). */
export function normalizeAuthority(raw: string): string | null {
  if (raw === '') return '';
  if (raw.charCodeAt(0) === 91 /* [ */) return bracketed(raw);
  let lower = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if ((c >= 0x61 && c <= 0x7a) || (c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2e || c === 0x5f || c === 0x7e) continue;
    if (c >= 0x41 && c <= 0x5a) lower = true;
    else if (c === 0x3a /* : */) {
      // The common case, a lowercase name and a plain port, is returned as it is (no new string).
      if (!lower && i > 0 && raw.charCodeAt(i - 1) !== 0x2e && plainPort(raw, i + 1)) return raw;
      return withPort(lower ? raw.slice(0, i).toLowerCase() : raw.slice(0, i), raw, i);
    } else return null;
  }
  const host = lower ? raw.toLowerCase() : raw;
  return hostName(host);
}

/** The host part without its port: drop one trailing dot; refuse an empty name or label. */
function hostName(host: string): string | null {
  const n = host.length;
  if (n === 0) return null;
  if (host.charCodeAt(n - 1) !== 0x2e) return host;
  const stripped = host.slice(0, n - 1);
  return stripped.length === 0 || stripped.charCodeAt(stripped.length - 1) === 0x2e ? null : stripped;
}

function withPort(hostPart: string, raw: string, colon: number): string | null {
  const host = hostName(hostPart);
  if (host === null) return null;
  const port = portOf(raw, colon + 1);
  if (port === null) return null;
  return port === '' ? host : `${host}:${port}`;
}

/** 1-5 digits to the end, no leading zero, at most 65535: already in normal form. */
function plainPort(raw: string, from: number): boolean {
  const digits = raw.length - from;
  if (digits < 1 || digits > 5 || (digits > 1 && raw.charCodeAt(from) === 0x30)) return false;
  let n = 0;
  for (let i = from; i < raw.length; i++) {
    const c = raw.charCodeAt(i) - 0x30;
    if (c < 0 || c > 9) return false;
    n = n * 10 + c;
  }
  return n <= MAX_PORT;
}

/** Digits from `from` to the end: '' for none, null when not a port. */
function portOf(raw: string, from: number): string | null {
  const digits = raw.length - from;
  if (digits === 0) return '';
  if (digits > 5) return null;
  for (let i = from; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return null;
  }
  const s = raw.slice(from);
  const n = Number(s);
  if (n > MAX_PORT) return null;
  return s.length > 1 && s.charCodeAt(0) === 0x30 ? String(n) : s;
}

function bracketed(raw: string): string | null {
  const end = raw.indexOf(']');
  if (end < 0) return null;
  const ip = raw.slice(1, end);
  if (!isIPv6(ip) || ip.includes('%')) return null;
  const rest = end + 1;
  if (rest < raw.length && raw.charCodeAt(rest) !== 0x3a /* : */) return null;
  const port = rest < raw.length ? portOf(raw, rest + 1) : '';
  if (port === null) return null;
  const literal = `[${ip.toLowerCase()}]`;
  return port === '' ? literal : `${literal}:${port}`;
}

/** The host of a normalized authority: no port, no brackets ("[::1]:80" → "::1"). */
export function hostOfAuthority(authority: string): string {
  if (authority.charCodeAt(0) === 91 /* [ */) return authority.slice(1, authority.indexOf(']'));
  const colon = authority.indexOf(':');
  return colon < 0 ? authority : authority.slice(0, colon);
}
