// Cross-Origin Resource Sharing, as Envoy Gateway configures Envoy's CORS
// filter from a SecurityPolicy:
// - origins: exact, "*" (any), or a pattern with "*" matched against the whole
//   Origin value, where "*" may span several labels ("https://*.example.com"
//   matches "https://a.b.example.com"); the port is part of the origin;
// - a preflight (OPTIONS with Origin and Access-Control-Request-Method) is
//   answered here, before any authentication: 200 with the CORS headers for an
//   allowed origin, 200 without them for any other (never forwarded upstream);
// - an actual request from an allowed origin gets Access-Control-Allow-Origin
//   (and -Credentials, -Expose-Headers) on its response; other origins get none;
// - responses that depend on Origin carry Vary: Origin.
// Patterns are matched by a glob with no regex (bounded: origins over 1 KiB are
// never allowed), compiled once per snapshot.
import type { RequestContext } from '../core/request.ts';
import type { CompiledFilter, FilterModuleFor, Reply } from './types.ts';
import type { CorsConfig } from '../ir/security-policy.ts';

export type { CorsConfig };


/**
 * Whole-string glob match: "*" matches any run of characters. Backtracks only
 * to the last star, so the work is at most pattern × input length.
 */
export function globMatch(pattern: string, s: string): boolean {
  let p = 0;
  let i = 0;
  let star = -1;
  let mark = 0;
  while (i < s.length) {
    if (p < pattern.length && pattern.charCodeAt(p) !== 42 && pattern.charCodeAt(p) === s.charCodeAt(i)) {
      p++;
      i++;
    } else if (p < pattern.length && pattern.charCodeAt(p) === 42) {
      star = p++;
      mark = i;
    } else if (star >= 0) {
      p = star + 1;
      i = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern.charCodeAt(p) === 42) p++;
  return p === pattern.length;
}

export function compileOriginMatcher(c: Pick<CorsConfig, 'anyOrigin' | 'exact' | 'patterns'>): (origin: string) => boolean {
  if (c.anyOrigin) return () => true;
  const exact = new Set(c.exact.map((o) => o.toLowerCase()));
  const patterns = c.patterns.map((p) => p.toLowerCase());
  return (origin) => {
    if (origin.length > MAX_ORIGIN) return false;
    // Browsers send origins in lowercase: lowercasing copies only when there is something to change.
    const o = hasUpper(origin) ? origin.toLowerCase() : origin;
    if (exact.has(o)) return true;
    for (let i = 0; i < patterns.length; i++) if (globMatch(patterns[i], o)) return true;
    return false;
  };
}

function hasUpper(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if ((c >= 65 && c <= 90) || c > 127) return true;
  }
  return false;
}

/** No browser sends a longer Origin; longer ones are never allowed (bounds the glob's work). */
const MAX_ORIGIN = 1024;

const PREFLIGHT_DENIED: Reply = { status: 200, headers: { vary: 'Origin' } };

export function isPreflight(ctx: RequestContext): boolean {
  return ctx.method === 'OPTIONS' && ctx.headers.origin !== undefined && ctx.headers['access-control-request-method'] !== undefined;
}

export const cors: FilterModuleFor<'cors'> = {
  type: 'cors',
  compile(config, cc): CompiledFilter {
    const allowed = compileOriginMatcher(config);
    const methods = config.allowMethods.join(', ');
    const headers = config.allowHeaders.join(', ');
    const expose = config.exposeHeaders.join(', ');
    const maxAge = String(config.maxAgeSeconds);
    const preflightHeaders = (origin: string): Record<string, string> => {
      const h: Record<string, string> = { 'access-control-allow-origin': origin, vary: 'Origin' };
      if (methods) h['access-control-allow-methods'] = methods;
      if (headers) h['access-control-allow-headers'] = headers;
      if (config.maxAgeSeconds > 0) h['access-control-max-age'] = maxAge;
      if (expose) h['access-control-expose-headers'] = expose;
      if (config.allowCredentials) h['access-control-allow-credentials'] = 'true';
      return h;
    };
    return {
      type: 'cors',
      onRequest(ctx) {
        const origin = ctx.headers.origin;
        if (typeof origin !== 'string') return undefined;
        const ok = allowed(origin);
        if (isPreflight(ctx)) {
          if (ctx.trace) ctx.record({ filter: 'cors', origin: cc.origin, decision: ok ? 'allow' : 'continue', reason: `preflight from ${ok ? 'allowed' : 'unknown'} origin ${origin.slice(0, 200)}` });
          return ok ? { status: 200, headers: preflightHeaders(origin) } : PREFLIGHT_DENIED;
        }
        if (ok && ctx.responseHeaders === undefined) {
          // The usual case (CORS runs first): one object of a fixed shape, not two keyed inserts.
          ctx.responseHeaders = { vary: 'Origin', 'access-control-allow-origin': origin };
        } else {
          ctx.addResponseHeader('vary', 'Origin');
          if (!ok) return undefined;
          ctx.addResponseHeader('access-control-allow-origin', origin);
        }
        if (config.allowCredentials) ctx.addResponseHeader('access-control-allow-credentials', 'true');
        if (expose) ctx.addResponseHeader('access-control-expose-headers', expose);
        return undefined;
      },
    };
  },
};
