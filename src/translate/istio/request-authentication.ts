// Istio RequestAuthentication (security.istio.io/v1) → one filter per hop.
// The glue in translate decides which policies select a hop (root namespace,
// selector, targetRefs); this builder merges their jwtRules into the config of
// the 'istio.requestAuthentication' filter, validating each field the way
// Istio's webhook and CRD do. A policy with an invalid field is left out as a
// whole (Istio would have refused to store it) and its errors come back.
import type { IRFilter } from '../../ir/types.ts';
import { formatPath, type ConfigError } from '../../resources/errors.ts';
import { resourceKey, type LoadedResource } from '../../resources/types.ts';
import { compareByAge } from '../attachment/precedence.ts';
import { importJwks } from '../../auth/jwt/keys.ts';
import { DEFAULT_LOCATIONS } from '../../auth/jwt/extract.ts';
import type { JwksConfig } from '../../auth/jwt/provider.ts';
import type { IstioJwtRule, IstioRequestAuthenticationConfig } from '../../ir/istio.ts';

export const REQUEST_AUTHENTICATION_FILTER = 'istio.requestAuthentication';

/** Istio's JWKS fetch timeout when `timeout` is unset. */
export const DEFAULT_JWKS_TIMEOUT_MS = 5_000;
/** Istio configures Envoy's remote JWKS cache for 5 minutes. */
export const JWKS_CACHE_DURATION_MS = 300_000;
/** Istio always splits these claims (plus the rule's spaceDelimitedClaims). */
export const DEFAULT_SPACE_DELIMITED_CLAIMS = ['permission', 'scope'] as const;

const SPEC_FIELDS = new Set(['selector', 'targetRef', 'targetRefs', 'jwtRules']);
const RULE_FIELDS = new Set([
  'issuer', 'audiences', 'jwksUri', 'jwks_uri', 'jwks', 'fromHeaders', 'fromParams', 'fromCookies',
  'outputPayloadToHeader', 'forwardOriginalToken', 'outputClaimToHeaders', 'timeout', 'spaceDelimitedClaims',
]);
/** RFC 9110 token: a header or cookie name. */
const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** Istio's ValidateStrictHTTPHeaderName, for headers it writes. */
const STRICT_HEADER = /^[-_A-Za-z0-9]+$/;
const GO_DURATION_PART = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)/gy;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
const MAX_RULES = 4096;
const MAX_TIMEOUT_MS = 3_600_000;

/** Go/protobuf duration text ("5s", "1.5s", "100ms", "1m30s") → ms, or undefined. */
export function parseGoDuration(text: string): number | undefined {
  if (text === '' || text === '0') return text === '0' ? 0 : undefined;
  GO_DURATION_PART.lastIndex = 0;
  let ms = 0;
  let pos = 0;
  for (let m = GO_DURATION_PART.exec(text); m !== null; m = GO_DURATION_PART.exec(text)) {
    if (m[1] === '' || m[1] === '.') return undefined;
    ms += Number(m[1]) * UNIT_MS[m[2]];
    pos = GO_DURATION_PART.lastIndex;
  }
  return pos === text.length ? ms : undefined;
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/** Locale-independent order (Go sorts strings by bytes). */
function byteOrder(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

class Checker {
  readonly errors: ConfigError[] = [];
  readonly #lr: LoadedResource;
  readonly #object: string;

  constructor(lr: LoadedResource) {
    this.#lr = lr;
    this.#object = resourceKey(lr.resource);
  }

  error(path: (string | number)[], message: string): void {
    const e: ConfigError = { object: this.#object, path: formatPath(path), message };
    if (this.#lr.source) {
      e.source = this.#lr.source;
      const line = this.#lr.source.lineOf?.(path);
      if (line !== undefined) e.line = line;
    }
    this.errors.push(e);
  }

  unknownFields(obj: Record<string, unknown>, allowed: ReadonlySet<string>, path: (string | number)[]): void {
    for (const k of Object.keys(obj)) if (!allowed.has(k)) this.error([...path, k], `unknown field "${k}"`);
  }

  string(v: unknown, path: (string | number)[], opts: { required?: boolean; pattern?: RegExp; what?: string } = {}): string | undefined {
    if (v === undefined || v === null || v === '') {
      if (opts.required) this.error(path, `${opts.what ?? 'value'} must be a non-empty string`);
      return undefined;
    }
    if (typeof v !== 'string') {
      this.error(path, 'must be a string');
      return undefined;
    }
    if (opts.pattern && !opts.pattern.test(v)) {
      this.error(path, `${JSON.stringify(v)} is not a valid ${opts.what ?? 'value'}`);
      return undefined;
    }
    return v;
  }

  stringList(v: unknown, path: (string | number)[], what: string, pattern?: RegExp): string[] {
    if (v === undefined || v === null) return [];
    if (!Array.isArray(v)) {
      this.error(path, 'must be a list');
      return [];
    }
    const out: string[] = [];
    v.forEach((x, i) => {
      const s = this.string(x, [...path, i], { required: true, pattern, what });
      if (s !== undefined) out.push(s);
    });
    return out;
  }
}

function checkRule(c: Checker, raw: unknown, path: (string | number)[], origin: string, ruleIndex: number): IstioJwtRule | undefined {
  const before = c.errors.length;
  if (!isObject(raw)) {
    c.error(path, 'must be an object');
    return undefined;
  }
  c.unknownFields(raw, RULE_FIELDS, path);
  const issuer = c.string(raw.issuer, [...path, 'issuer'], { what: 'issuer' });
  const audiences = c.stringList(raw.audiences, [...path, 'audiences'], 'audience');

  if (raw.jwksUri !== undefined && raw.jwks_uri !== undefined) c.error([...path, 'jwks_uri'], 'set only one of jwksUri and jwks_uri');
  const uriField = raw.jwksUri !== undefined ? 'jwksUri' : 'jwks_uri';
  const jwksUri = c.string(raw[uriField], [...path, uriField], { what: 'URI' });
  if (jwksUri !== undefined && !isHttpUrl(jwksUri)) c.error([...path, uriField], `${JSON.stringify(jwksUri)} is not an http(s) URL with a host`);
  const jwks = c.string(raw.jwks, [...path, 'jwks'], { what: 'JWKS' });
  if (jwks !== undefined) {
    const imported = importJwks(jwks);
    if (!imported.ok) c.error([...path, 'jwks'], imported.reason);
    if (jwksUri !== undefined) c.error([...path, 'jwks'], `set only one of jwks and ${uriField}`);
  }
  if (issuer === undefined && jwksUri === undefined && (raw.issuer === undefined || raw.issuer === null || raw.issuer === '')) {
    c.error([...path, 'issuer'], 'issuer is required unless jwksUri is set');
  }

  let timeoutMs = DEFAULT_JWKS_TIMEOUT_MS;
  if (raw.timeout !== undefined) {
    const t = typeof raw.timeout === 'string' ? parseGoDuration(raw.timeout) : undefined;
    if (t === undefined) c.error([...path, 'timeout'], `${JSON.stringify(raw.timeout)} is not a duration (e.g. "5s", "500ms")`);
    else if (t < 1 || t > MAX_TIMEOUT_MS) c.error([...path, 'timeout'], 'must be between 1ms and 1h');
    else timeoutMs = Math.round(t);
  }

  const fromHeaders: { name: string; prefix: string }[] = [];
  if (raw.fromHeaders !== undefined && raw.fromHeaders !== null) {
    if (!Array.isArray(raw.fromHeaders)) c.error([...path, 'fromHeaders'], 'must be a list');
    else {
      raw.fromHeaders.forEach((h, i) => {
        const hp = [...path, 'fromHeaders', i];
        if (!isObject(h)) return c.error(hp, 'must be an object with "name"');
        c.unknownFields(h, new Set(['name', 'prefix']), hp);
        const name = c.string(h.name, [...hp, 'name'], { required: true, pattern: TOKEN, what: 'header name' });
        const prefix = h.prefix === undefined ? '' : c.string(h.prefix, [...hp, 'prefix']) ?? '';
        if (name !== undefined) fromHeaders.push({ name: name.toLowerCase(), prefix });
      });
    }
  }
  const fromParams = c.stringList(raw.fromParams, [...path, 'fromParams'], 'query parameter');
  const fromCookies = c.stringList(raw.fromCookies, [...path, 'fromCookies'], 'cookie name', TOKEN);

  const outputPayloadToHeader = c.string(raw.outputPayloadToHeader, [...path, 'outputPayloadToHeader'], { pattern: STRICT_HEADER, what: 'header name' });
  let forwardOriginalToken = false;
  if (raw.forwardOriginalToken !== undefined) {
    if (typeof raw.forwardOriginalToken !== 'boolean') c.error([...path, 'forwardOriginalToken'], 'must be true or false');
    else forwardOriginalToken = raw.forwardOriginalToken;
  }

  const outputClaimToHeaders: { header: string; claim: string }[] = [];
  if (raw.outputClaimToHeaders !== undefined && raw.outputClaimToHeaders !== null) {
    if (!Array.isArray(raw.outputClaimToHeaders)) c.error([...path, 'outputClaimToHeaders'], 'must be a list');
    else {
      const seen = new Set<string>();
      raw.outputClaimToHeaders.forEach((o, i) => {
        const op = [...path, 'outputClaimToHeaders', i];
        if (!isObject(o)) return c.error(op, 'must be an object with "header" and "claim"');
        c.unknownFields(o, new Set(['header', 'claim']), op);
        const header = c.string(o.header, [...op, 'header'], { required: true, pattern: STRICT_HEADER, what: 'header name' });
        const claim = c.string(o.claim, [...op, 'claim'], { required: true, what: 'claim' });
        if (header === undefined || claim === undefined) return;
        const lower = header.toLowerCase();
        if (seen.has(lower)) return c.error([...op, 'header'], `header "${header}" is set by another entry`);
        seen.add(lower);
        outputClaimToHeaders.push({ header: lower, claim });
      });
    }
  }
  const spaceDelimitedClaims = [...new Set([...DEFAULT_SPACE_DELIMITED_CLAIMS, ...c.stringList(raw.spaceDelimitedClaims, [...path, 'spaceDelimitedClaims'], 'claim')])].sort();

  if (c.errors.length > before) return undefined;

  let jwksConfig: JwksConfig;
  if (jwks !== undefined) jwksConfig = { type: 'inline', jwks };
  else if (jwksUri !== undefined) jwksConfig = { type: 'remote', uri: jwksUri, timeoutMs, cacheDurationMs: JWKS_CACHE_DURATION_MS };
  else jwksConfig = { type: 'discovery', issuer: issuer as string, timeoutMs, cacheDurationMs: JWKS_CACHE_DURATION_MS };

  // Envoy's default locations, written out so the IR shows where tokens are looked for.
  const noLocation = fromHeaders.length === 0 && fromParams.length === 0 && fromCookies.length === 0;
  const rule: IstioJwtRule = {
    origin,
    ruleIndex,
    audiences,
    jwks: jwksConfig,
    fromHeaders: noLocation ? DEFAULT_LOCATIONS.fromHeaders.map((h) => ({ ...h })) : fromHeaders,
    fromParams: noLocation ? [...DEFAULT_LOCATIONS.fromParams] : fromParams,
    fromCookies,
    forwardOriginalToken,
    outputClaimToHeaders,
    spaceDelimitedClaims,
  };
  if (issuer !== undefined) rule.issuer = issuer;
  if (outputPayloadToHeader !== undefined) rule.outputPayloadToHeader = outputPayloadToHeader.toLowerCase();
  return rule;
}

/**
 * Merge the jwtRules of the RequestAuthentication policies that apply to one
 * hop into one filter. Rules are ordered by issuer (as Istio orders its Envoy
 * providers), policies oldest first (translate/attachment's order), so the IR
 * is deterministic.
 * No filter when no valid rule remains.
 */
export function buildRequestAuthenticationFilter(policies: LoadedResource[]): { filter?: IRFilter; errors: ConfigError[] } {
  const errors: ConfigError[] = [];
  const rules: IstioJwtRule[] = [];
  const origins: string[] = [];
  const sorted = policies
    .filter((lr) => lr.resource.kind === 'RequestAuthentication')
    .sort(compareByAge);
  for (const lr of sorted) {
    const c = new Checker(lr);
    const origin = resourceKey(lr.resource);
    const spec = lr.resource.spec as unknown;
    const mine: IstioJwtRule[] = [];
    if (spec !== undefined && spec !== null) {
      if (!isObject(spec)) c.error(['spec'], 'must be an object');
      else {
        c.unknownFields(spec, SPEC_FIELDS, ['spec']);
        const list = spec.jwtRules;
        if (list !== undefined && list !== null) {
          if (!Array.isArray(list)) c.error(['spec', 'jwtRules'], 'must be a list');
          else if (list.length > MAX_RULES) c.error(['spec', 'jwtRules'], `at most ${MAX_RULES} rules`);
          else
            list.forEach((raw, i) => {
              const r = checkRule(c, raw, ['spec', 'jwtRules', i], origin, i);
              if (r) mine.push(r);
            });
        }
      }
    }
    if (c.errors.length > 0) {
      errors.push(...c.errors);
      continue;
    }
    if (mine.length > 0) {
      rules.push(...mine);
      origins.push(origin);
    }
  }
  if (rules.length === 0) return { errors };
  // Stable: rules of one issuer keep policy order.
  rules.sort((a, b) => byteOrder(a.issuer ?? '', b.issuer ?? ''));
  const config: IstioRequestAuthenticationConfig = { rules };
  return { filter: { type: REQUEST_AUTHENTICATION_FILTER, origin: origins.join(', '), config }, errors };
}
