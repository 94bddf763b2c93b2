// HTTPRoute (gateway.networking.k8s.io/v1, httproute_types.go), standard +
// experimental channel.
import { type Static, typed, obj, arr, set, str, int, oneOfValues, specResourceSchema, BOOLEAN, INTEGER, patterned } from './common.ts';
import {
  PARENT_REFS, HOSTNAMES, SECTION_NAME, PRECISE_HOSTNAME, PORT_NUMBER, DURATION, HEADER_NAME, HEADER_VALUE,
  BACKEND_OBJECT_REFERENCE, BACKEND_REF_PROPERTIES, LOCAL_OBJECT_REFERENCE, HTTP_HEADER_FILTER,
  HTTP_REQUEST_MIRROR_FILTER, SESSION_PERSISTENCE, routeFilterSchemas,
} from './gatewayapi-types.ts';
import { list, has } from './check-helpers.ts';
import {
  checkRoute, checkBackendRefs, checkBackendObjectRef, checkNamedMatches, checkRegex, checkNotRepeated, checkSharedFilter,
  checkSessionPersistence, checkTimeouts,
} from './gatewayapi-route-checks.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

const PATH_VALUE_CHARS = "^(?:[-A-Za-z0-9/._~!$&'()*+,;=:@]|[%][0-9a-fA-F]{2})+$";

const PATH_MODIFIER = obj(
  {
    type: oneOfValues(['ReplaceFullPath', 'ReplacePrefixMatch']),
    replaceFullPath: str({ maxLength: 1024 }),
    replacePrefixMatch: str({ maxLength: 1024 }),
  },
  ['type'],
);

const CORS_ORIGIN = patterned(
  253,
  '(^\\*$)|(^([a-zA-Z][a-zA-Z0-9+\\-.]+):\\/\\/([^:/?#]+)(:([0-9]{1,5}))?$)',
  'an origin such as "https://example.com", "https://*.example.com:8443", or "*"',
);

const CORS_FILTER = obj({
  allowOrigins: set(CORS_ORIGIN, { maxItems: 64 }),
  allowCredentials: BOOLEAN,
  allowMethods: set(oneOfValues([...HTTP_METHODS, '*']), { maxItems: 9 }),
  allowHeaders: set(HEADER_NAME, { maxItems: 64 }),
  exposeHeaders: set(HEADER_NAME, { maxItems: 64 }),
  maxAge: typed<number>({ type: 'integer', minimum: 1 }),
});

const EXTERNAL_AUTH_FILTER = obj(
  {
    protocol: oneOfValues(['HTTP', 'GRPC']),
    backendRef: BACKEND_OBJECT_REFERENCE,
    grpc: obj({ allowedHeaders: set(str({}), { maxItems: 64 }) }),
    http: obj({
      path: str({ maxLength: 1024, pattern: PATH_VALUE_CHARS, description: 'a path prefix of URL path characters' }),
      allowedHeaders: set(str({}), { maxItems: 64 }),
      allowedResponseHeaders: set(str({}), { maxItems: 64 }),
    }),
    forwardBody: obj({ maxSize: typed<number>({ type: 'integer', minimum: 0 }) }),
  },
  ['protocol', 'backendRef'],
);

/** filter field → the `type` it belongs to. */
export const HTTP_FILTER_FIELDS: Record<string, string> = {
  requestHeaderModifier: 'RequestHeaderModifier',
  responseHeaderModifier: 'ResponseHeaderModifier',
  requestMirror: 'RequestMirror',
  requestRedirect: 'RequestRedirect',
  urlRewrite: 'URLRewrite',
  cors: 'CORS',
  externalAuth: 'ExternalAuth',
  extensionRef: 'ExtensionRef',
};

const { filter: HTTP_ROUTE_FILTER, filters: FILTERS } = routeFilterSchemas(
  ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef', 'CORS', 'ExternalAuth'],
  {
    requestHeaderModifier: HTTP_HEADER_FILTER,
    responseHeaderModifier: HTTP_HEADER_FILTER,
    requestMirror: HTTP_REQUEST_MIRROR_FILTER,
    requestRedirect: obj({
      scheme: oneOfValues(['http', 'https']),
      hostname: PRECISE_HOSTNAME,
      path: PATH_MODIFIER,
      port: PORT_NUMBER,
      statusCode: oneOfValues([301, 302, 303, 307, 308], 'integer'),
    }),
    urlRewrite: obj({ hostname: PRECISE_HOSTNAME, path: PATH_MODIFIER }),
    cors: CORS_FILTER,
    externalAuth: EXTERNAL_AUTH_FILTER,
    extensionRef: LOCAL_OBJECT_REFERENCE,
  },
);

const HTTP_ROUTE_MATCH = obj({
  path: obj({
    type: oneOfValues(['Exact', 'PathPrefix', 'RegularExpression']),
    value: str({ maxLength: 1024 }),
  }),
  headers: arr(obj({ type: oneOfValues(['Exact', 'RegularExpression']), name: HEADER_NAME, value: HEADER_VALUE }, ['name', 'value']), { maxItems: 16 }),
  queryParams: arr(
    obj({ type: oneOfValues(['Exact', 'RegularExpression']), name: HEADER_NAME, value: str({ minLength: 1, maxLength: 1024 }) }, ['name', 'value']),
    { maxItems: 16 },
  ),
  method: oneOfValues(HTTP_METHODS),
});

const HTTP_ROUTE_RULE = obj({
  name: SECTION_NAME,
  matches: arr(HTTP_ROUTE_MATCH, { maxItems: 64 }),
  filters: FILTERS,
  backendRefs: arr(obj({ ...BACKEND_REF_PROPERTIES, filters: FILTERS }, ['name']), { maxItems: 16 }),
  timeouts: obj({ request: DURATION, backendRequest: DURATION }),
  retry: obj({
    codes: set(int(400, 599, 'an HTTP status code from 400 to 599')),
    attempts: INTEGER,
    backoff: DURATION,
  }),
  sessionPersistence: SESSION_PERSISTENCE,
});

const HTTP_ROUTE_SPEC = obj({
  parentRefs: PARENT_REFS,
  hostnames: HOSTNAMES,
  rules: arr(HTTP_ROUTE_RULE, { minItems: 1, maxItems: 16 }),
});

/** An HTTPRoute spec that passed validation (translate reads it through these types). */
export type HTTPRouteSpec = Static<typeof HTTP_ROUTE_SPEC>;
export type HTTPRouteRule = Static<typeof HTTP_ROUTE_RULE>;
export type HTTPRouteFilter = Static<typeof HTTP_ROUTE_FILTER>;
export type HTTPHeaderFilter = Static<typeof HTTP_HEADER_FILTER>;
export type HTTPPathModifier = Static<typeof PATH_MODIFIER>;

export const httpRouteSchema = specResourceSchema(HTTP_ROUTE_SPEC);

// --- semantic checks ---

const PATH_CHARS = new RegExp(PATH_VALUE_CHARS);
const FORBIDDEN_IN_PATH = ['//', '/./', '/../', '%2f', '%2F', '#'];

/** HTTPPathMatch rules for Exact and PathPrefix (the CRD's CEL), and regex compilation. */
function checkPathMatch(p: any, at: FieldPath, out: ValidationIssue[]): void {
  const type = p.type ?? 'PathPrefix';
  const value: string = p.value ?? '/';
  const valueAt = [...at, 'value'];
  if (type === 'RegularExpression') {
    checkRegex(value, valueAt, out);
    return;
  }
  if (!value.startsWith('/')) {
    out.push({ path: valueAt, message: `must be an absolute path starting with "/" when type is ${type} (got "${value}")` });
    return;
  }
  const bad = FORBIDDEN_IN_PATH.find((s) => value.includes(s));
  if (bad) out.push({ path: valueAt, message: `must not contain "${bad}" when type is ${type}` });
  else if (value.endsWith('/..') || value.endsWith('/.')) out.push({ path: valueAt, message: `must not end with "/." or "/.." when type is ${type}` });
  else if (!PATH_CHARS.test(value)) out.push({ path: valueAt, message: 'must only contain URL path characters (letters, digits, -._~!$&\'()*+,;=:@/ and %XX escapes)' });
}

function checkMatch(m: any, at: FieldPath, out: ValidationIssue[]): void {
  if (has(m, 'path')) checkPathMatch(m.path, [...at, 'path'], out);
  for (const field of ['headers', 'queryParams'] as const) checkNamedMatches(list(m[field]), at, field, out);
}

function checkPathModifier(pm: any, at: FieldPath, out: ValidationIssue[]): void {
  for (const [type, field] of [['ReplaceFullPath', 'replaceFullPath'], ['ReplacePrefixMatch', 'replacePrefixMatch']]) {
    if (pm.type === type && !has(pm, field)) out.push({ path: at, message: `${field} must be specified when type is set to '${type}'` });
    if (has(pm, field) && pm.type !== type) out.push({ path: [...at, field], message: `type must be '${type}' when ${field} is set` });
  }
}

function checkStarAlone(values: any[], at: FieldPath, what: string, out: ValidationIssue[]): void {
  if (values.includes('*') && values.length > 1) out.push({ path: at, message: `${what} cannot contain '*' alongside other values` });
}

function checkFilters(filters: any[], at: FieldPath, out: ValidationIssue[]): void {
  checkNotRepeated(filters, ['CORS', 'RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestRedirect', 'URLRewrite'], at, out);
  const types = new Set(filters.map((f) => f.type));
  if (types.has('RequestRedirect') && types.has('URLRewrite')) {
    out.push({ path: at, message: 'May specify either a RequestRedirect or a URLRewrite filter, but not both' });
  }
  filters.forEach((f, i) => {
    const fat = [...at, i];
    checkSharedFilter(f, HTTP_FILTER_FIELDS, fat, out);
    if (has(f.requestRedirect, 'path')) checkPathModifier(f.requestRedirect.path, [...fat, 'requestRedirect', 'path'], out);
    if (has(f.urlRewrite, 'path')) checkPathModifier(f.urlRewrite.path, [...fat, 'urlRewrite', 'path'], out);
    if (has(f, 'cors')) {
      checkStarAlone(list(f.cors.allowOrigins), [...fat, 'cors', 'allowOrigins'], 'AllowOrigins', out);
      checkStarAlone(list(f.cors.allowMethods), [...fat, 'cors', 'allowMethods'], 'AllowMethods', out);
      checkStarAlone(list(f.cors.allowHeaders), [...fat, 'cors', 'allowHeaders'], 'AllowHeaders', out);
    }
    if (has(f, 'externalAuth')) {
      const ea = f.externalAuth;
      const eat = [...fat, 'externalAuth'];
      checkBackendObjectRef(ea.backendRef, [...eat, 'backendRef'], out);
      for (const [proto, field] of [['GRPC', 'grpc'], ['HTTP', 'http']]) {
        if (ea.protocol === proto && !has(ea, field)) out.push({ path: eat, message: `${field} must be specified when protocol is set to '${proto}'` });
        if (has(ea, field) && ea.protocol !== proto) out.push({ path: [...eat, field], message: `protocol must be '${proto}' when ${field} is set` });
      }
    }
  });
}

/** Does a filter list rewrite with replacePrefixMatch (which needs exactly one PathPrefix match)? */
function usesReplacePrefix(filters: any[], field: 'requestRedirect' | 'urlRewrite'): boolean {
  return filters.some((f) => f[field]?.path?.type === 'ReplacePrefixMatch' && has(f[field].path, 'replacePrefixMatch'));
}

function checkRule(rule: any, at: FieldPath, out: ValidationIssue[]): void {
  const matches = list(rule.matches);
  matches.forEach((m, i) => checkMatch(m, [...at, 'matches', i], out));
  const filters = list(rule.filters);
  checkFilters(filters, [...at, 'filters'], out);
  const backendRefs = list(rule.backendRefs);
  checkBackendRefs(backendRefs, at, checkFilters, out);
  if (backendRefs.length > 0 && filters.some((f) => has(f, 'requestRedirect'))) {
    out.push({ path: at, message: 'RequestRedirect filter must not be used together with backendRefs' });
  }
  // Matches default to a single PathPrefix "/" match, and a match's path to PathPrefix.
  const singlePrefixMatch = matches.length === 0 || (matches.length === 1 && (matches[0].path?.type ?? 'PathPrefix') === 'PathPrefix');
  const allFilterLists = [filters, ...backendRefs.map((b) => list(b.filters))];
  for (const [field, name] of [['requestRedirect', 'RequestRedirect'], ['urlRewrite', 'URLRewrite']] as const) {
    if (!singlePrefixMatch && allFilterLists.some((fl) => usesReplacePrefix(fl, field))) {
      out.push({ path: [...at, 'matches'], message: `When using ${name} filter with path.replacePrefixMatch, exactly one PathPrefix match must be specified` });
    }
  }
  if (has(rule, 'timeouts')) checkTimeouts(rule.timeouts, [...at, 'timeouts'], out);
  if (has(rule, 'sessionPersistence')) checkSessionPersistence(rule.sessionPersistence, [...at, 'sessionPersistence'], out);
}

export function checkHTTPRoute(route: any, out: ValidationIssue[]): void {
  checkRoute(route, checkRule, out);
}
