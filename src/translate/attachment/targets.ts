// The typed target model of policy attachment: what a policy can attach to,
// and the route-rule "points" that policies attach to after routes are
// translated. A point belongs to four targets at once (its Gateway, the
// listener it came through, its route, its named rule); the most specific
// target a policy names decides its precedence there.
import type { NamespacedName } from '../../ir/types.ts';

export type TargetLevel = 'Gateway' | 'Listener' | 'Route' | 'RouteRule';

export type RouteKind = 'HTTPRoute' | 'GRPCRoute';

export interface RouteId extends NamespacedName {
  kind: RouteKind;
}

export type AttachmentTarget =
  | { level: 'Gateway'; gateway: NamespacedName }
  | { level: 'Listener'; gateway: NamespacedName; sectionName: string }
  | { level: 'Route'; route: RouteId }
  | { level: 'RouteRule'; route: RouteId; sectionName: string };

/** One translated route rule on one listener: where route-level policies land. */
export interface RouteRulePoint {
  gateway: NamespacedName;
  /** The listener (Gateway section) the route attached through. */
  listener: string;
  route: RouteId;
  /** The rule's index, and its name when it has one (sectionName targets it). */
  rule: number;
  ruleName?: string;
  /** The parentRef's sectionName (the policy's ancestor in status), when it named one. */
  parentSectionName?: string;
}

/** One Gateway listener: where listener-level policies (ClientTrafficPolicy) land. */
export interface ListenerPoint {
  gateway: NamespacedName;
  listener: string;
}

const sameNN = (a: NamespacedName, b: NamespacedName): boolean => a.namespace === b.namespace && a.name === b.name;
const sameRoute = (a: RouteId, b: RouteId): boolean => a.kind === b.kind && sameNN(a, b);

/** Does the target cover the point? */
export function covers(t: AttachmentTarget, p: RouteRulePoint | ListenerPoint): boolean {
  switch (t.level) {
    case 'Gateway': return sameNN(t.gateway, p.gateway);
    case 'Listener': return sameNN(t.gateway, p.gateway) && t.sectionName === p.listener;
    case 'Route': return 'route' in p && sameRoute(t.route, p.route);
    case 'RouteRule': return 'route' in p && sameRoute(t.route, p.route) && p.ruleName === t.sectionName;
  }
}

/** "Gateway/ns/name", "Gateway/ns/name/listener", "HTTPRoute/ns/name", "HTTPRoute/ns/name/rule". */
export function targetLabel(t: AttachmentTarget): string {
  switch (t.level) {
    case 'Gateway': return `Gateway/${t.gateway.namespace}/${t.gateway.name}`;
    case 'Listener': return `Gateway/${t.gateway.namespace}/${t.gateway.name}/${t.sectionName}`;
    case 'Route': return `${t.route.kind}/${t.route.namespace}/${t.route.name}`;
    case 'RouteRule': return `${t.route.kind}/${t.route.namespace}/${t.route.name}/${t.sectionName}`;
  }
}

export function pointLabel(p: RouteRulePoint): string {
  return `${p.route.kind}/${p.route.namespace}/${p.route.name}/${p.ruleName ?? p.rule}`;
}
