import type { ConditionReason, ParentReference, ParentStatus, ResourceStatus, StatusCondition } from '../ir/types.ts';

export type ParentField = 'parents' | 'ancestors';

/** Collects status conditions per resource (and per parent/ancestor) while translating. */
export class StatusCollector {
  private map = new Map<string, ResourceStatus>();

  ensure(object: string): ResourceStatus {
    let s = this.map.get(object);
    if (!s) this.map.set(object, (s = { object, accepted: true, conditions: [] }));
    return s;
  }

  condition(object: string, c: StatusCondition): void {
    const s = this.ensure(object);
    put(s.conditions, c);
    if (c.type === 'Accepted' && c.status === 'False') s.accepted = false;
  }

  /** A condition for one parent (route) or ancestor (policy) of the object. */
  parentCondition(object: string, field: ParentField, parentRef: ParentReference, c: StatusCondition): void {
    const s = this.ensure(object);
    const list = (s[field] ??= []);
    let entry = list.find((p) => sameParent(p.parentRef, parentRef));
    if (!entry) list.push((entry = { parentRef: { ...parentRef }, conditions: [] }));
    put(entry.conditions, c);
    if (c.type === 'Accepted' && c.status === 'False') s.accepted = false;
  }

  /** The object's parent/ancestor entries so far. */
  parentsOf(object: string, field: ParentField): readonly ParentStatus[] {
    return this.map.get(object)?.[field] ?? [];
  }

  accept(object: string, message = 'accepted'): void {
    this.condition(object, { type: 'Accepted', status: 'True', reason: 'Accepted', message });
  }

  reject(object: string, reason: ConditionReason, message: string): void {
    this.condition(object, { type: 'Accepted', status: 'False', reason, message });
  }

  setObservedGeneration(object: string, generation: number | undefined): void {
    const s = this.map.get(object);
    if (s && typeof generation === 'number') s.observedGeneration = generation;
  }

  objects(): string[] {
    return [...this.map.keys()];
  }

  /** Sorted by object; within one, Accepted first, then ResolvedRefs, then in the order they were set. */
  list(): ResourceStatus[] {
    for (const s of this.map.values()) {
      s.conditions.sort(byType);
      for (const p of [...(s.parents ?? []), ...(s.ancestors ?? [])]) p.conditions.sort(byType);
    }
    return [...this.map.values()].sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
  }
}

const TYPE_RANK: Readonly<Record<string, number>> = { Accepted: 0, ResolvedRefs: 1 };
const byType = (a: StatusCondition, b: StatusCondition): number => (TYPE_RANK[a.type] ?? 2) - (TYPE_RANK[b.type] ?? 2);

/** The first False of a type is the most useful one; keep it. */
function put(conditions: StatusCondition[], c: StatusCondition): void {
  const i = conditions.findIndex((x) => x.type === c.type);
  if (i >= 0) {
    if (conditions[i].status === 'False') return;
    conditions[i] = c;
  } else conditions.push(c);
}

function sameParent(a: ParentReference, b: ParentReference): boolean {
  return a.kind === b.kind && a.namespace === b.namespace && a.name === b.name && a.sectionName === b.sectionName;
}
