// GRPCRoute rules as the HTTP route rules they are on the wire: a gRPC call is
// a POST to /<service>/<method> over HTTP/2, so a method match is a path match
// and everything else (headers, filters, backendRefs, session persistence) is
// the HTTPRoute rule's own shape. translateRoutes() then treats both kinds alike;
// only the backends differ (HTTP/2 to the endpoints, see backends.ts).
import type { GRPCRouteMatch, GRPCRouteRule } from '../resources/kinds/gatewayapi-grpcroute.ts';
import type { HTTPRouteRule } from '../resources/kinds/gatewayapi-httproute.ts';

type HTTPRouteMatch = NonNullable<HTTPRouteRule['matches']>[number];
type HTTPRouteFilter = NonNullable<HTTPRouteRule['filters']>[number];

/** RE2 syntax for a literal (service names carry dots). */
function literal(s: string): string {
  return s.replace(/[\\^$.|?*+()[\]{}]/g, '\\$&');
}

/** Gateway API GRPCMethodMatch → the request path it selects (service or method absent: any). */
export function grpcMethodPath(m: NonNullable<GRPCRouteMatch['method']>): NonNullable<HTTPRouteMatch['path']> {
  if ((m.type ?? 'Exact') === 'RegularExpression') {
    return { type: 'RegularExpression', value: `/(?:${m.service ?? '[^/]+'})/(?:${m.method ?? '[^/]+'})` };
  }
  if (m.service !== undefined && m.method !== undefined) return { type: 'Exact', value: `/${m.service}/${m.method}` };
  // Path prefixes match whole path elements: /foo.Bar selects /foo.Bar/X, never /foo.BarBaz/X.
  if (m.service !== undefined) return { type: 'PathPrefix', value: `/${m.service}` };
  return { type: 'RegularExpression', value: `/[^/]+/${literal(m.method ?? '')}` };
}

function asHttpMatch(m: GRPCRouteMatch): HTTPRouteMatch {
  const out: HTTPRouteMatch = {};
  if (m.method) out.path = grpcMethodPath(m.method);
  if (m.headers) out.headers = m.headers;
  return out;
}

/** A GRPCRoute rule in HTTPRoute form (the filters GRPCRoute allows are a subset of HTTPRoute's, same fields). */
export function grpcRuleAsHttp(rule: GRPCRouteRule): HTTPRouteRule {
  const out: HTTPRouteRule = {};
  if (rule.name !== undefined) out.name = rule.name;
  if (rule.matches) out.matches = rule.matches.map(asHttpMatch);
  if (rule.filters) out.filters = rule.filters as HTTPRouteFilter[];
  if (rule.backendRefs) out.backendRefs = rule.backendRefs.map((b) => ({ ...b, filters: b.filters as HTTPRouteFilter[] | undefined }));
  if (rule.sessionPersistence) out.sessionPersistence = rule.sessionPersistence;
  return out;
}
