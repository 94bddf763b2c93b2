// recomputeRoute (Envoy's clear_route_cache; SecurityPolicy jwt.providers[]
// and extAuth recomputeRoute): headers a filter set — claimToHeaders, an
// authorizer's headersToBackend — take part in route matching. The route's
// gateway-hop chain runs up to that filter (Chain.reroute); when it says so,
// the listener's router matches the request again with its current headers,
// and the filters after it are those of the route chosen then, as Envoy runs
// the rest of its filter chain with the new route's per-route config. Only
// one re-route per request: the new route's chain runs to its end.
import type { IRMatch } from '../ir/types.ts';
import type { RequestContext } from '../core/request.ts';
import type { DataRoute } from './compile.ts';
import { filterRank } from '../ir/filter-order.ts';
import { stripIdentityHeaders } from './client-headers.ts';

/** What decide() keeps of the match (DecidedRequest's fields). */
interface Routed extends RequestContext {
  route: DataRoute | undefined;
  reroutedFrom: DataRoute | undefined;
  match: IRMatch | undefined;
  matchedPrefix: string | undefined;
}

/**
 * After the re-route point of `route`'s chain: the route whose chain goes on
 * and the index to go on from; null when no route matches any more (404).
 */
export function recomputeRoute(ctx: Routed, route: DataRoute): { route: DataRoute; from: number } | null {
  const rr = route.chain.reroute!;
  if (!rr.when(ctx)) return { route, from: rr.at + 1 };
  const m = rr.router!.match(ctx.host, ctx.path, ctx.method, ctx.headers, ctx.query);
  if (!m) {
    ctx.record({ filter: 'recomputeRoute', decision: 'info', reason: `route ${route.label} left: no route matches with the headers the filters set` });
    return null;
  }
  const next = m.route;
  if (ctx.trace) ctx.record({ filter: 'recomputeRoute', decision: 'info', reason: next === route ? `route ${route.label} kept` : `route ${route.label} → ${next.label} (matched again with the headers the filters set)` });
  ctx.match = m.match;
  ctx.matchedPrefix = m.match.path.type === 'PathPrefix' ? m.match.path.value : undefined;
  if (next === route) return { route, from: rr.at + 1 };
  ctx.route = next;
  ctx.reroutedFrom = route;
  // Identity headers the first route did not strip may be a client's forgeries
  // for the new route's filters; those the first route stripped were set by the gateway since.
  const strip = next.identityHeaders.filter((h) => !route.identityHeaders.includes(h));
  if (strip.length > 0) stripIdentityHeaders(ctx.headers, strip);
  // The new route's chain goes on after the slot of the filter that re-routed.
  const rank = filterRank(route.chain.request[rr.at].type);
  const list = next.chain.request;
  let from = 0;
  while (from < list.length && filterRank(list[from].type) <= rank) from++;
  return { route: next, from };
}
