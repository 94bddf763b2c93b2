// Claim checks and claim reading, the way Envoy's jwt_authn does them.

/**
 * jwt_verify_lib's CheckAudience: the scheme ("http://", "https://") and one
 * trailing slash are ignored on both sides, because users get them wrong.
 */
export function normalizeAudience(a: string): string {
  let s = a;
  if (s.startsWith('http://')) s = s.slice(7);
  else if (s.startsWith('https://')) s = s.slice(8);
  if (s.endsWith('/')) s = s.slice(0, -1);
  return s;
}

/** Builds the audience check once per provider. No configured audiences = any audience. */
export function audienceChecker(configured: readonly string[]): (tokenAudiences: readonly string[]) => boolean {
  if (configured.length === 0) return () => true;
  const allowed = new Set(configured.map(normalizeAudience));
  return (tokenAudiences) => {
    for (const a of tokenAudiences) if (allowed.has(normalizeAudience(a))) return true;
    return false;
  };
}

/** Value at a dotted claim path ("a.b.c"), as Envoy's StructUtils walks it. */
export function claimAt(claims: Record<string, unknown>, path: readonly string[]): unknown {
  let cur: unknown = claims;
  for (const part of path) {
    if (typeof cur !== 'object' || cur === null || Array.isArray(cur)) return undefined;
    if (!Object.hasOwn(cur, part)) return undefined;
    cur = (cur as Record<string, unknown>)[part];
  }
  return cur;
}

/**
 * A claim as a header value, or undefined when Envoy would not emit it:
 * strings as they are, booleans as true/false, non-negative integers in full,
 * other numbers like C++ std::to_string (six decimals); objects, lists and null
 * are skipped.
 */
export function claimHeaderValue(v: unknown): string | undefined {
  if (typeof v === 'string') return v === '' ? undefined : v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number' && Number.isFinite(v)) {
    if (Number.isInteger(v) && v >= 0 && v < 2 ** 64) return String(v);
    return v.toFixed(6);
  }
  return undefined;
}

/**
 * Envoy's normalize_payload_in_metadata: the named claims, when strings, become
 * lists split on spaces (Istio always does this for "scope" and "permission"),
 * so that authorization can match a single scope.
 */
export function splitSpaceDelimited(claims: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const n of names) {
    const v = claims[n];
    if (typeof v !== 'string' || !Object.hasOwn(claims, n)) continue;
    out ??= { ...claims };
    out[n] = v.split(' ').filter((s) => s !== '');
  }
  return out ?? claims;
}

/** Freeze a JSON value deeply: verified claims are shared between requests through the cache. */
export function deepFreeze<T>(v: T): T {
  if (typeof v === 'object' && v !== null && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v as object)) deepFreeze(x);
  }
  return v;
}
