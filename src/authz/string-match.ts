// String matchers shared by the authorization filters (Istio AuthorizationPolicy,
// Envoy Gateway SecurityPolicy, ext_authz header lists). Patterns are plain data
// (they travel in the IR); compileStringMatcher turns a list of them into one
// predicate once per snapshot, so matching a request allocates nothing.

export type { StringPattern } from '../ir/patterns.ts';
import type { StringPattern } from '../ir/patterns.ts';

/**
 * Istio's wildcard syntax: "*" alone, "*suffix", "prefix*", else exact.
 * `star` says what a lone "*" means for the attribute: Istio builds a regex ".+"
 * for string attributes and a present_match for headers.
 */
export function parseWildcard(v: string, star: 'nonEmpty' | 'present'): StringPattern {
  if (v === '*') return { kind: star };
  if (v.startsWith('*')) return { kind: 'suffix', value: v.slice(1) };
  if (v.endsWith('*')) return { kind: 'prefix', value: v.slice(0, -1) };
  return { kind: 'exact', value: v };
}

export type StringPredicate = (s: string | undefined) => boolean;

const never: StringPredicate = () => false;

/**
 * One predicate that is true when any pattern matches. With ignoreCase the
 * patterns are lowered here and the input is compared ASCII-case-insensitively
 * without building a lowered copy.
 */
export function compileStringMatcher(patterns: readonly StringPattern[], opts: { ignoreCase?: boolean } = {}): StringPredicate {
  if (patterns.length === 0) return never;
  const ic = opts.ignoreCase === true;
  let present = false;
  let nonEmpty = false;
  const exact = new Set<string>();
  const prefixes: string[] = [];
  const suffixes: string[] = [];
  for (const p of patterns) {
    switch (p.kind) {
      case 'present': present = true; break;
      case 'nonEmpty': nonEmpty = true; break;
      case 'exact': exact.add(ic ? p.value.toLowerCase() : p.value); break;
      case 'prefix': prefixes.push(ic ? p.value.toLowerCase() : p.value); break;
      case 'suffix': suffixes.push(ic ? p.value.toLowerCase() : p.value); break;
    }
  }
  if (present) return (s) => s !== undefined;
  const exactList = [...exact];
  return (s) => {
    if (s === undefined) return false;
    if (nonEmpty && s.length > 0) return true;
    if (ic) {
      for (let i = 0; i < exactList.length; i++) if (equalsIgnoreCase(s, exactList[i])) return true;
      for (let i = 0; i < prefixes.length; i++) if (startsWithIgnoreCase(s, prefixes[i])) return true;
      for (let i = 0; i < suffixes.length; i++) if (endsWithIgnoreCase(s, suffixes[i])) return true;
      return false;
    }
    if (exact.has(s)) return true;
    for (let i = 0; i < prefixes.length; i++) if (s.startsWith(prefixes[i])) return true;
    for (let i = 0; i < suffixes.length; i++) if (s.endsWith(suffixes[i])) return true;
    return false;
  };
}

// ASCII case folding only, as Envoy's ignore_case does; `lower` is already lowercase.
function foldAt(s: string, i: number): number {
  const c = s.charCodeAt(i);
  return c >= 65 && c <= 90 ? c + 32 : c;
}

function regionEquals(s: string, offset: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) if (foldAt(s, offset + i) !== lower.charCodeAt(i)) return false;
  return true;
}

export function equalsIgnoreCase(s: string, lower: string): boolean {
  return s.length === lower.length && regionEquals(s, 0, lower);
}

export function startsWithIgnoreCase(s: string, lower: string): boolean {
  return s.length >= lower.length && regionEquals(s, 0, lower);
}

export function endsWithIgnoreCase(s: string, lower: string): boolean {
  return s.length >= lower.length && regionEquals(s, s.length - lower.length, lower);
}
