// Finding a token in a request and taking it out again: header with prefix,
// query parameter, cookie. Shared by the Istio and Envoy Gateway front doors,
// which configure the same three location kinds with Envoy's semantics.

export interface TokenLocations {
  fromHeaders: readonly { name: string; prefix: string }[];
  fromParams: readonly string[];
  fromCookies: readonly string[];
}

/** Envoy's default when a provider names no location: "Authorization: Bearer <t>", then ?access_token=. */
export const DEFAULT_LOCATIONS: TokenLocations = Object.freeze({
  fromHeaders: Object.freeze([Object.freeze({ name: 'authorization', prefix: 'Bearer ' })]),
  fromParams: Object.freeze(['access_token']),
  fromCookies: Object.freeze([]),
});

export function withDefaultLocations(l: TokenLocations): TokenLocations {
  return l.fromHeaders.length === 0 && l.fromParams.length === 0 && l.fromCookies.length === 0 ? DEFAULT_LOCATIONS : l;
}

function isBase64UrlOrDot(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 95 || c === 46;
}

/**
 * The token in a header value, or undefined when the prefix is absent.
 * Envoy's extractor: the prefix may appear anywhere; the token starts at the
 * first base64url (or '.') character after it and runs to the end.
 */
export function tokenFromHeader(value: string, prefix: string): string | undefined {
  if (prefix === '') return value === '' ? undefined : value;
  const at = value.indexOf(prefix);
  if (at < 0) return undefined;
  let i = at + prefix.length;
  while (i < value.length && !isBase64UrlOrDot(value.charCodeAt(i))) i++;
  // Nothing token-like after the prefix: Envoy keeps the value as-is (and it will not parse).
  return i < value.length ? value.slice(i) : value;
}

function decodeComponent(s: string): string {
  if (s.indexOf('%') < 0 && s.indexOf('+') < 0) return s;
  try {
    return decodeURIComponent(s.replaceAll('+', ' '));
  } catch {
    return s;
  }
}

/** First value of a query parameter (raw query without '?'), decoded; undefined when absent. */
export function queryParam(query: string, name: string): string | undefined {
  if (query === '') return undefined;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    const eq = query.indexOf('=', start);
    const nameEnd = eq >= 0 && eq < end ? eq : end;
    if (decodeComponent(query.slice(start, nameEnd)) === name) {
      return nameEnd === end ? '' : decodeComponent(query.slice(nameEnd + 1, end));
    }
    start = end + 1;
  }
  return undefined;
}

/** The query without any occurrence of the parameter; other parameters keep their encoding. */
export function removeQueryParam(query: string, name: string): string {
  const kept: string[] = [];
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    if (decodeComponent(eq >= 0 ? part.slice(0, eq) : part) !== name) kept.push(part);
  }
  return kept.join('&');
}

/** Value of a cookie in a Cookie header ("a=1; b=2"), unquoted; undefined when absent. */
export function cookieValue(header: string, name: string): string | undefined {
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    if (eq < 0) continue;
    if (pair.slice(0, eq).trim() !== name) continue;
    let v = pair.slice(eq + 1).trim();
    if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
    return v;
  }
  return undefined;
}

/** The Cookie header without that cookie; '' when nothing is left. */
export function removeCookie(header: string, name: string): string {
  const kept: string[] = [];
  for (const pair of header.split(';')) {
    const eq = pair.indexOf('=');
    const n = (eq < 0 ? pair : pair.slice(0, eq)).trim();
    if (n !== name && pair.trim() !== '') kept.push(pair.trim());
  }
  return kept.join('; ');
}
