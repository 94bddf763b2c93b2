import type { ResourceStatus, StatusCondition } from '../ir/types.ts';

/** Collects status conditions per resource while translating. */
export class StatusCollector {
  private map = new Map<string, ResourceStatus>();

  ensure(object: string): ResourceStatus {
    let s = this.map.get(object);
    if (!s) this.map.set(object, (s = { object, accepted: true, conditions: [] }));
    return s;
  }

  condition(object: string, c: StatusCondition): void {
    const s = this.ensure(object);
    const i = s.conditions.findIndex((x) => x.type === c.type);
    // The first False of a type is the most useful one; keep it.
    if (i >= 0) {
      if (s.conditions[i].status === 'False') return;
      s.conditions[i] = c;
    } else s.conditions.push(c);
    if (c.type === 'Accepted' && c.status === 'False') s.accepted = false;
  }

  accept(object: string, message = 'accepted'): void {
    this.condition(object, { type: 'Accepted', status: 'True', reason: 'Accepted', message });
  }

  reject(object: string, reason: string, message: string): void {
    this.condition(object, { type: 'Accepted', status: 'False', reason, message });
  }

  list(): ResourceStatus[] {
    return [...this.map.values()].sort((a, b) => (a.object < b.object ? -1 : a.object > b.object ? 1 : 0));
  }
}
