// GRPCRoute (gateway.networking.k8s.io/v1, grpcroute_types.go), standard +
// experimental channel.
import { obj, arr, str, oneOfValues, resourceSchema, type Static } from './common.ts';
import {
  PARENT_REFS, HOSTNAMES, SECTION_NAME, HEADER_NAME, BACKEND_REF_PROPERTIES, LOCAL_OBJECT_REFERENCE,
  HTTP_HEADER_FILTER, HTTP_REQUEST_MIRROR_FILTER, SESSION_PERSISTENCE, routeFilterSchemas,
} from './gatewayapi-types.ts';
import { list, has } from './check-helpers.ts';
import {
  checkRoute, checkBackendRefs, checkNamedMatches, checkRegex, checkNotRepeated, checkSharedFilter, checkSessionPersistence,
} from './gatewayapi-route-checks.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

const GRPC_FILTER_FIELDS: Record<string, string> = {
  requestHeaderModifier: 'RequestHeaderModifier',
  responseHeaderModifier: 'ResponseHeaderModifier',
  requestMirror: 'RequestMirror',
  extensionRef: 'ExtensionRef',
};

const { filters: FILTERS } = routeFilterSchemas(['ResponseHeaderModifier', 'RequestHeaderModifier', 'RequestMirror', 'ExtensionRef'], {
  requestHeaderModifier: HTTP_HEADER_FILTER,
  responseHeaderModifier: HTTP_HEADER_FILTER,
  requestMirror: HTTP_REQUEST_MIRROR_FILTER,
  extensionRef: LOCAL_OBJECT_REFERENCE,
});

const GRPC_ROUTE_MATCH = obj({
  method: obj({
    type: oneOfValues(['Exact', 'RegularExpression']),
    service: str({ maxLength: 1024 }),
    method: str({ maxLength: 1024 }),
  }),
  headers: arr(
    obj({ type: oneOfValues(['Exact', 'RegularExpression']), name: HEADER_NAME, value: str({ minLength: 1, maxLength: 4096 }) }, ['name', 'value']),
    { maxItems: 16 },
  ),
});

const GRPC_ROUTE_RULE = obj({
  name: SECTION_NAME,
  matches: arr(GRPC_ROUTE_MATCH, { maxItems: 8 }),
  filters: FILTERS,
  backendRefs: arr(obj({ ...BACKEND_REF_PROPERTIES, filters: FILTERS }, ['name']), { maxItems: 16 }),
  sessionPersistence: SESSION_PERSISTENCE,
});

const GRPC_ROUTE_SPEC = obj({ parentRefs: PARENT_REFS, hostnames: HOSTNAMES, rules: arr(GRPC_ROUTE_RULE, { maxItems: 16 }) });

export const grpcRouteSchema = resourceSchema({ fields: { spec: GRPC_ROUTE_SPEC } });

export type GRPCRouteSpec = Static<typeof GRPC_ROUTE_SPEC>;
export type GRPCRouteRule = Static<typeof GRPC_ROUTE_RULE>;
export type GRPCRouteMatch = Static<typeof GRPC_ROUTE_MATCH>;

// --- semantic checks ---

const SERVICE_NAME = /^\.?[a-z_][a-z_0-9]*(\.[a-z_][a-z_0-9]*)*$/i;
const METHOD_NAME = /^[A-Za-z_][A-Za-z_0-9]*$/;

function checkMethodMatch(mm: any, at: FieldPath, out: ValidationIssue[]): void {
  if (!has(mm, 'service') && !has(mm, 'method')) {
    out.push({ path: at, message: "One or both of 'service' or 'method' must be specified" });
    return;
  }
  if ((mm.type ?? 'Exact') === 'RegularExpression') {
    checkRegex(mm.service, [...at, 'service'], out);
    checkRegex(mm.method, [...at, 'method'], out);
    return;
  }
  if (has(mm, 'service') && !SERVICE_NAME.test(mm.service)) {
    out.push({ path: [...at, 'service'], message: `must be a fully-qualified gRPC service name such as "foo.bar.v1.Service" (got "${mm.service}")` });
  }
  if (has(mm, 'method') && !METHOD_NAME.test(mm.method)) {
    out.push({ path: [...at, 'method'], message: `must be a gRPC method name such as "GetUser" (got "${mm.method}")` });
  }
}

function checkFilters(filters: any[], at: FieldPath, out: ValidationIssue[]): void {
  checkNotRepeated(filters, ['RequestHeaderModifier', 'ResponseHeaderModifier'], at, out);
  filters.forEach((f, i) => checkSharedFilter(f, GRPC_FILTER_FIELDS, [...at, i], out));
}

function checkRule(rule: any, at: FieldPath, out: ValidationIssue[]): void {
  list(rule.matches).forEach((m, i) => {
    const mat = [...at, 'matches', i];
    if (has(m, 'method')) checkMethodMatch(m.method, [...mat, 'method'], out);
    checkNamedMatches(list(m.headers), mat, 'headers', out);
  });
  checkFilters(list(rule.filters), [...at, 'filters'], out);
  checkBackendRefs(list(rule.backendRefs), at, checkFilters, out);
  if (has(rule, 'sessionPersistence')) checkSessionPersistence(rule.sessionPersistence, [...at, 'sessionPersistence'], out);
}

export function checkGRPCRoute(route: any, out: ValidationIssue[]): void {
  checkRoute(route, checkRule, out);
}
