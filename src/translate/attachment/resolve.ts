// targetRefs and targetSelectors → typed targets (Envoy Gateway's
// LocalPolicyTargetReferenceWithSectionName and TargetSelector). Policies
// reach only resources in their own namespace: the references have no
// namespace field, and selectors look only there.
import type { LabelSelector } from '../gateways.ts';
import { matchesSelector } from '../selectors.ts';
import type { AttachmentTarget, RouteKind } from './targets.ts';
import { GATEWAY_API_GROUP, nnKey, routeKey, type TargetInventory } from './inventory.ts';
import type { AttachingPolicy } from './winners.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { namespaceOf } from '../../resources/types.ts';

export interface PolicyTargetReference {
  group?: string;
  kind: string;
  name: string;
  sectionName?: string;
}

export interface PolicyTargetSelector extends LabelSelector {
  group?: string;
  kind: string;
}

export interface ResolvedTargets {
  targets: AttachmentTarget[];
  /** References that name nothing that exists (said in the policy's status, never dropped silently). */
  notFound: string[];
}

const ROUTE_KINDS: ReadonlySet<string> = new Set<RouteKind>(['HTTPRoute', 'GRPCRoute']);

export function resolveTargets(
  policyNamespace: string,
  refs: readonly PolicyTargetReference[],
  selectors: readonly PolicyTargetSelector[],
  inv: TargetInventory,
): ResolvedTargets {
  const targets: AttachmentTarget[] = [];
  const notFound: string[] = [];
  const seen = new Set<string>();
  const add = (t: AttachmentTarget, key: string) => {
    if (seen.has(key)) return;
    seen.add(key);
    targets.push(t);
  };
  for (const ref of refs) {
    const what = `${ref.kind} ${policyNamespace}/${ref.name}${ref.sectionName ? ` section ${ref.sectionName}` : ''}`;
    if ((ref.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP) {
      notFound.push(`${what}: group ${ref.group} is not supported (${GATEWAY_API_GROUP})`);
      continue;
    }
    if (ref.kind === 'Gateway') {
      const gw = inv.gateways.get(nnKey({ namespace: policyNamespace, name: ref.name }));
      if (!gw) notFound.push(`${what} not found`);
      else if (ref.sectionName === undefined) add({ level: 'Gateway', gateway: gw.ref }, `g|${nnKey(gw.ref)}`);
      else if (!gw.listeners.includes(ref.sectionName)) notFound.push(`${what}: the Gateway has no listener ${ref.sectionName}`);
      else add({ level: 'Listener', gateway: gw.ref, sectionName: ref.sectionName }, `l|${nnKey(gw.ref)}|${ref.sectionName}`);
    } else if (ROUTE_KINDS.has(ref.kind)) {
      const route = inv.routes.get(routeKey({ kind: ref.kind as RouteKind, namespace: policyNamespace, name: ref.name }));
      if (!route) notFound.push(`${what} not found`);
      else if (ref.sectionName === undefined) add({ level: 'Route', route: route.ref }, `r|${routeKey(route.ref)}`);
      else if (!route.ruleNames.includes(ref.sectionName)) notFound.push(`${what}: the route has no rule named ${ref.sectionName}`);
      else add({ level: 'RouteRule', route: route.ref, sectionName: ref.sectionName }, `rr|${routeKey(route.ref)}|${ref.sectionName}`);
    } else {
      notFound.push(`${what}: kind ${ref.kind} is not supported (Gateway, HTTPRoute, GRPCRoute)`);
    }
  }
  for (const sel of selectors) {
    if ((sel.group ?? GATEWAY_API_GROUP) !== GATEWAY_API_GROUP) continue;
    if (sel.kind === 'Gateway') {
      for (const gw of inv.gateways.values()) {
        if (gw.ref.namespace === policyNamespace && matchesSelector(sel, gw.resource.resource.metadata.labels ?? {})) add({ level: 'Gateway', gateway: gw.ref }, `g|${nnKey(gw.ref)}`);
      }
    } else if (ROUTE_KINDS.has(sel.kind)) {
      for (const r of inv.routes.values()) {
        if (r.ref.kind === sel.kind && r.ref.namespace === policyNamespace && matchesSelector(sel, r.resource.resource.metadata.labels ?? {})) add({ level: 'Route', route: r.ref }, `r|${routeKey(r.ref)}`);
      }
    }
  }
  return { targets, notFound };
}

/** The targeting fields every Envoy Gateway policy spec has. */
export interface PolicyTargeting {
  /** Deprecated in Envoy Gateway, still read: one reference. */
  targetRef?: PolicyTargetReference;
  targetRefs?: PolicyTargetReference[];
  targetSelectors?: PolicyTargetSelector[];
}

/** A policy with its targets resolved, ready for attachWinners. */
export function attachingPolicy<Spec extends PolicyTargeting>(resource: LoadedResource, spec: Spec, inv: TargetInventory): AttachingPolicy<Spec> {
  const refs = [...(spec.targetRef ? [spec.targetRef] : []), ...(spec.targetRefs ?? [])];
  const { targets, notFound } = resolveTargets(namespaceOf(resource.resource), refs, spec.targetSelectors ?? [], inv);
  return { resource, spec, targets, notFound };
}
