// The one precedence order of policy attachment, shared by every policy family
// (Envoy Gateway's and Istio's) and by Gateways and routes where age breaks ties.
//
// 1. the most specific target wins: route rule > route > listener > gateway;
// 2. then the oldest (creationTimestamp; resources from files carry none, so
//    their load order stands in, after every resource that has one);
// 3. then namespace/name, so the result never depends on input order.
import type { LoadedResource } from '../../resources/types.ts';
import { namespaceOf } from '../../resources/types.ts';
import type { TargetLevel } from './targets.ts';

/** Higher = more specific (wins). */
export const TARGET_SPECIFICITY: Readonly<Record<TargetLevel, number>> = { Gateway: 0, Listener: 1, Route: 2, RouteRule: 3 };

/** Milliseconds since the epoch, or undefined when absent or unreadable. */
function createdMs(r: LoadedResource): number | undefined {
  const t = r.resource.metadata.creationTimestamp;
  if (t === undefined || t === null || t === '') return undefined;
  const ms = Date.parse(String(t));
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A string that sorts in age order (older first): RFC 3339 timestamps as a
 * fixed-width number, then load order for resources without one. Kept in the
 * IR (IRRoute.order.created) where the data plane breaks route ties.
 */
export function ageKey(r: LoadedResource): string {
  const ms = createdMs(r);
  return ms !== undefined ? String(ms).padStart(16, '0') : `~${String(r.seq).padStart(9, '0')}`;
}

function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Oldest first, then namespace, then name. */
export function compareByAge(a: LoadedResource, b: LoadedResource): number {
  return (
    compareStr(ageKey(a), ageKey(b)) ||
    compareStr(namespaceOf(a.resource), namespaceOf(b.resource)) ||
    compareStr(a.resource.metadata.name, b.resource.metadata.name) ||
    a.seq - b.seq
  );
}

/** The winner first: most specific target level, then compareByAge. */
export function comparePrecedence(a: { level: TargetLevel; policy: LoadedResource }, b: { level: TargetLevel; policy: LoadedResource }): number {
  return TARGET_SPECIFICITY[b.level] - TARGET_SPECIFICITY[a.level] || compareByAge(a.policy, b.policy);
}

/** The older of two resources (the first when they tie). */
export function older(a: LoadedResource | undefined, b: LoadedResource): LoadedResource {
  if (!a) return b;
  return compareByAge(b, a) < 0 ? b : a;
}
