// "Winner per route rule, losers marked Overridden": the part of policy
// attachment every Envoy Gateway family shares. A family hands over its
// policies (with their resolved targets) and gets back, per route rule (or
// per listener), the one policy that applies there; each policy's status says,
// per ancestor, Accepted (or Invalid) and Overridden where a more specific or
// older policy won. Policies do not merge: the winner replaces the others
// entirely at that point (Envoy Gateway's default, without mergeType).
import type { ParentReference } from '../../ir/types.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { resourceKey } from '../../resources/types.ts';
import type { StatusCollector } from '../status.ts';
import { comparePrecedence, TARGET_SPECIFICITY } from './precedence.ts';
import { covers, type AttachmentTarget, type ListenerPoint, type RouteRulePoint, type TargetLevel } from './targets.ts';
import { nnKey, routeKey, type TargetInventory } from './inventory.ts';

export interface AttachingPolicy<Spec> {
  resource: LoadedResource;
  /** The family's validated spec (src/resources validated and defaulted it). */
  spec: Spec;
  targets: readonly AttachmentTarget[];
  /** Targets that name nothing that exists; said in the status. */
  notFound?: readonly string[];
  /**
   * Set when the family could not translate the policy (a Secret is missing...).
   * It still wins where it would have won, so the family can answer 500 there
   * rather than fall back to a less specific policy; its status says Invalid.
   */
  invalid?: string;
}

export interface Attachment<Spec> {
  policy: AttachingPolicy<Spec>;
  /** The most specific of the policy's targets that covers the point. */
  target: AttachmentTarget;
  level: TargetLevel;
}

export interface AttachOptions {
  /** Kind name used in messages ("SecurityPolicy"). */
  kind: string;
  status: StatusCollector;
  /** For ancestors of route targets whose route attached nowhere: their parentRefs. */
  inventory: TargetInventory;
}

/**
 * The winner at each point (points without any covering policy are absent),
 * and every policy's ancestor status written into opts.status.
 */
export function attachWinners<Spec, Pt extends RouteRulePoint | ListenerPoint>(
  policies: readonly AttachingPolicy<Spec>[],
  points: readonly Pt[],
  opts: AttachOptions,
): Map<Pt, Attachment<Spec>> {
  const winners = new Map<Pt, Attachment<Spec>>();
  /** policy key → ancestor key → labels of the points where it lost, and to whom. */
  const lost = new Map<string, Map<string, { ref: ParentReference; where: string[] }>>();
  for (const point of points) {
    const candidates: Attachment<Spec>[] = [];
    for (const policy of policies) {
      const best = mostSpecificCovering(policy.targets, point);
      if (best) candidates.push({ policy, target: best, level: best.level });
    }
    if (candidates.length === 0) continue;
    candidates.sort((a, b) => comparePrecedence({ level: a.level, policy: a.policy.resource }, { level: b.level, policy: b.policy.resource }));
    const [win, ...losers] = candidates;
    winners.set(point, win);
    for (const l of losers) {
      const ref = ancestorAt(l.target, point);
      const pk = resourceKey(l.policy.resource.resource);
      let byAncestor = lost.get(pk);
      if (!byAncestor) lost.set(pk, (byAncestor = new Map()));
      const ak = refKey(ref);
      let entry = byAncestor.get(ak);
      if (!entry) byAncestor.set(ak, (entry = { ref, where: [] }));
      const label = `${pointName(point)} (by ${resourceKey(win.policy.resource.resource)})`;
      if (!entry.where.includes(label)) entry.where.push(label);
    }
  }
  for (const policy of policies) writeStatus(policy, lost.get(resourceKey(policy.resource.resource)), opts);
  return winners;
}

function mostSpecificCovering(targets: readonly AttachmentTarget[], point: RouteRulePoint | ListenerPoint): AttachmentTarget | undefined {
  let best: AttachmentTarget | undefined;
  for (const t of targets) {
    if (covers(t, point) && (!best || TARGET_SPECIFICITY[t.level] > TARGET_SPECIFICITY[best.level])) best = t;
  }
  return best;
}

function pointName(p: RouteRulePoint | ListenerPoint): string {
  if ('route' in p) return `${p.route.kind}/${p.route.namespace}/${p.route.name}/${p.ruleName ?? p.rule}`;
  return `Gateway/${p.gateway.namespace}/${p.gateway.name}/${p.listener}`;
}

/** The ancestor a target hangs under at this point (Envoy Gateway's ancestorRef). */
function ancestorAt(t: AttachmentTarget, p: RouteRulePoint | ListenerPoint): ParentReference {
  if (t.level === 'Gateway') return { kind: 'Gateway', ...t.gateway };
  if (t.level === 'Listener') return { kind: 'Gateway', ...t.gateway, sectionName: t.sectionName };
  const section = 'route' in p ? p.parentSectionName : undefined;
  return section === undefined ? { kind: 'Gateway', ...p.gateway } : { kind: 'Gateway', ...p.gateway, sectionName: section };
}

/** Every ancestor of the policy's targets, whether or not a point exists under it. */
export function ancestorsOf(targets: readonly AttachmentTarget[], inv: TargetInventory): ParentReference[] {
  const out = new Map<string, ParentReference>();
  const add = (r: ParentReference) => out.set(refKey(r), r);
  for (const t of targets) {
    if (t.level === 'Gateway') add({ kind: 'Gateway', ...t.gateway });
    else if (t.level === 'Listener') add({ kind: 'Gateway', ...t.gateway, sectionName: t.sectionName });
    else {
      for (const p of inv.routes.get(routeKey(t.route))?.parents ?? []) {
        add(p.sectionName === undefined ? { kind: 'Gateway', ...p.gateway } : { kind: 'Gateway', ...p.gateway, sectionName: p.sectionName });
      }
    }
  }
  return [...out.values()];
}

function refKey(r: ParentReference): string {
  return `${nnKey(r)}|${r.sectionName ?? ''}`;
}

function writeStatus<Spec>(policy: AttachingPolicy<Spec>, lost: Map<string, { ref: ParentReference; where: string[] }> | undefined, opts: AttachOptions): void {
  const object = resourceKey(policy.resource.resource);
  const { status } = opts;
  const notFound = policy.notFound ?? [];
  if (policy.targets.length === 0) {
    status.reject(object, 'TargetNotFound', notFound.length > 0 ? notFound.join('; ') : 'no target selected');
    return;
  }
  if (notFound.length > 0) status.condition(object, { type: 'ResolvedRefs', status: 'False', reason: 'TargetNotFound', message: notFound.join('; ') });
  const ancestors = ancestorsOf(policy.targets, opts.inventory);
  for (const ref of ancestors) {
    if (policy.invalid !== undefined) status.parentCondition(object, 'ancestors', ref, { type: 'Accepted', status: 'False', reason: 'Invalid', message: policy.invalid });
    else status.parentCondition(object, 'ancestors', ref, { type: 'Accepted', status: 'True', reason: 'Accepted', message: `${opts.kind} has been accepted` });
  }
  for (const { ref, where } of lost?.values() ?? []) {
    status.parentCondition(object, 'ancestors', ref, {
      type: 'Overridden', status: 'True', reason: 'Overridden',
      message: `overridden by more specific or older ${opts.kind} policies on ${where.join(', ')}`,
    });
  }
}
