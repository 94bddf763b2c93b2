// Path templates as Istio's AuthorizationPolicy writes them ("{*}" one path
// segment, "{**}" zero or more segments, last), translated the way Envoy's
// uri_template matcher does: "{*}" becomes "[pchar]+", "{**}" becomes
// "[pchar/]*", everything else is literal, and the whole path must match.
// The matcher is built once per snapshot (the IR carries only the template).
import { compileRegex, escapeRegex, type LinearRegex } from '../match/regex.ts';

/** Envoy's kLiteral: RFC 3986 pchar without "*" (unreserved, pct-encoded, sub-delims, ":", "@"). */
const PCHAR = "a-zA-Z0-9\\-._~%!$&'()+,;:@=";
const ONE_SEGMENT = `[${PCHAR}]+`;
const ANY_SEGMENTS = `[${PCHAR}/]*`;
const VALID_LITERAL = /^[a-zA-Z0-9\-._~%!$&'()+,;:@=]+$/;

/** Built from escaped literals and fixed classes: no program-size bound (see match/regex.ts). */
const UNBOUNDED = { maxProgramSize: Infinity };

export const MATCH_ONE = '{*}';
export const MATCH_ANY = '{**}';

export function containsPathTemplate(path: string): boolean {
  return path.includes(MATCH_ONE) || path.includes(MATCH_ANY);
}

/**
 * Istio's own check (pkg/config/security CheckValidPathTemplate) for any path
 * value, plus Envoy's requirement that a template starts with "/".
 * Returns a message or undefined.
 */
export function validatePathTemplate(path: string): string | undefined {
  const isTemplate = containsPathTemplate(path);
  if (isTemplate && !path.startsWith('/')) return `path template ${path} must start with "/"`;
  let sawAny = false;
  for (const glob of trimSlashes(path).split('/')) {
    if (glob === MATCH_ONE || glob === MATCH_ANY) {
      if (sawAny) return `invalid or unsupported path ${path}: {**} is not the last operator`;
      if (glob === MATCH_ANY) sawAny = true;
      continue;
    }
    // Literals may follow "{**}" (Envoy: "/{**}/manifest.mpd"); operators may not.
    // Istio refuses braces anywhere outside a supported template, template or not.
    if (glob.includes('{') || glob.includes('}')) {
      return `invalid or unsupported path ${path}: contains '{' or '}' beyond a supported path template`;
    }
    if (isTemplate && !VALID_LITERAL.test(glob)) {
      return `invalid or unsupported path ${path}: segment "${glob}" is not a valid literal`;
    }
  }
  return undefined;
}

function trimSlashes(s: string): string {
  let a = 0;
  let b = s.length;
  while (a < b && s.charCodeAt(a) === 47) a++;
  while (b > a && s.charCodeAt(b - 1) === 47) b--;
  return s.slice(a, b);
}

/** The whole-path matcher for a validated template (RE2, like every user-supplied pattern). */
export function compilePathTemplate(path: string): LinearRegex {
  let src = '';
  let i = 0;
  while (i < path.length) {
    if (path.startsWith(MATCH_ANY, i)) {
      src += ANY_SEGMENTS;
      i += MATCH_ANY.length;
    } else if (path.startsWith(MATCH_ONE, i)) {
      src += ONE_SEGMENT;
      i += MATCH_ONE.length;
    } else {
      const next = nextTemplate(path, i);
      src += escapeRegex(path.slice(i, next));
      i = next;
    }
  }
  return compileRegex(src, UNBOUNDED);
}

function nextTemplate(path: string, from: number): number {
  const a = path.indexOf(MATCH_ONE, from);
  const b = path.indexOf(MATCH_ANY, from);
  if (a < 0 && b < 0) return path.length;
  if (a < 0) return b;
  if (b < 0) return a;
  return Math.min(a, b);
}
