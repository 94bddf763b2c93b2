// What policies can attach to, as translate sees it after Gateways and routes:
// the Gateways (with their listener names) and routes (with their rule names
// and parentRefs) that exist, and the route-rule points that were programmed.
import type { IRListener, IRRoute, NamespacedName } from '../../ir/types.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { namespaceOf } from '../../resources/types.ts';
import type { ResourceIndex } from '../index-resources.ts';
import type { HTTPRouteSpec } from '../../resources/kinds/gatewayapi-httproute.ts';
import type { ListenerPoint, RouteId, RouteKind, RouteRulePoint } from './targets.ts';

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';

export interface GatewayEntry {
  ref: NamespacedName;
  resource: LoadedResource;
  listeners: string[];
}

export interface RouteEntry {
  ref: RouteId;
  resource: LoadedResource;
  ruleNames: string[];
  /** The Gateways it names as parents (a policy's ancestors in status). */
  parents: { gateway: NamespacedName; sectionName?: string }[];
}

/** A programmed route rule: the point, and the IR route a family adds its filters to. */
export interface TranslatedRouteRule extends RouteRulePoint {
  ir: IRRoute;
}

export interface TranslatedListener extends ListenerPoint {
  ir: IRListener;
}

export interface TargetInventory {
  gateways: Map<string, GatewayEntry>;
  routes: Map<string, RouteEntry>;
  /** Every route rule on every listener, in listener then route order. */
  points: TranslatedRouteRule[];
  listenerPoints: TranslatedListener[];
}

export const nnKey = (nn: NamespacedName): string => `${nn.namespace}/${nn.name}`;
export const routeKey = (r: RouteId): string => `${r.kind}/${r.namespace}/${r.name}`;

export function buildInventory(idx: ResourceIndex, listeners: readonly IRListener[]): TargetInventory {
  const gateways = new Map<string, GatewayEntry>();
  for (const gw of idx.list('Gateway')) {
    const ref = { namespace: namespaceOf(gw.resource), name: gw.resource.metadata.name };
    const spec = (gw.resource.spec ?? {}) as { listeners?: { name: string }[] };
    gateways.set(nnKey(ref), { ref, resource: gw, listeners: (spec.listeners ?? []).map((l) => l.name) });
  }
  const routes = new Map<string, RouteEntry>();
  for (const kind of ['HTTPRoute', 'GRPCRoute'] as RouteKind[]) {
    for (const r of idx.list(kind)) {
      const ns = namespaceOf(r.resource);
      const ref: RouteId = { kind, namespace: ns, name: r.resource.metadata.name };
      // HTTPRoute and GRPCRoute share parentRefs and rule names (the HTTPRoute type reads both).
      const spec = (r.resource.spec ?? {}) as HTTPRouteSpec;
      const parents = (spec.parentRefs ?? [])
        .filter((p) => (p.group ?? GATEWAY_API_GROUP) === GATEWAY_API_GROUP && (p.kind ?? 'Gateway') === 'Gateway')
        .map((p) => ({ gateway: { namespace: p.namespace ?? ns, name: p.name }, sectionName: p.sectionName }));
      const ruleNames = (spec.rules ?? []).flatMap((x) => (x.name ? [x.name] : []));
      routes.set(routeKey(ref), { ref, resource: r, ruleNames, parents });
    }
  }
  const points: TranslatedRouteRule[] = [];
  const listenerPoints: TranslatedListener[] = [];
  for (const l of listeners) {
    for (const s of l.sections) listenerPoints.push({ gateway: s.gateway, listener: s.name, ir: l });
    for (const route of l.routes) {
      if (route.route.kind !== 'HTTPRoute' && route.route.kind !== 'GRPCRoute') continue;
      const ref: RouteId = { kind: route.route.kind, namespace: route.route.namespace, name: route.route.name };
      const parent = routes.get(routeKey(ref))?.parents.find((p) => nnKey(p.gateway) === nnKey(route.section.gateway) && (p.sectionName === undefined || p.sectionName === route.section.name));
      points.push({
        gateway: route.section.gateway,
        listener: route.section.name,
        route: ref,
        rule: route.route.rule,
        ruleName: route.route.ruleName,
        parentSectionName: parent?.sectionName,
        ir: route,
      });
    }
  }
  return { gateways, routes, points, listenerPoints };
}
