// The Table form `kubectl get` asks for (Accept: ...;as=Table;g=meta.k8s.io;v=v1):
// name, acceptance (from the translator's status) and age, one row per object.
import type { Resource } from '../../resources/types.ts';

export function wantsTable(accept: string | undefined): boolean {
  return accept !== undefined && /as=Table/.test(accept) && /g=meta\.k8s\.io/.test(accept);
}

export function age(ts: unknown, at = Date.now()): string {
  if (typeof ts !== 'string') return '<unknown>';
  const t = Date.parse(ts);
  if (Number.isNaN(t)) return '<unknown>';
  const s = Math.max(0, Math.floor((at - t) / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h}h`;
  return `${Math.floor(h / 24)}d`;
}

function accepted(r: Resource): string {
  const conds = (r.status as { conditions?: { type: string; status: string }[] } | undefined)?.conditions;
  return conds?.find((c) => c.type === 'Accepted')?.status ?? '';
}

const COLUMNS = [
  { name: 'Name', type: 'string', format: 'name', description: 'metadata.name', priority: 0 },
  { name: 'Accepted', type: 'string', format: '', description: 'whether the translator accepted the object (status.conditions[type=Accepted])', priority: 0 },
  { name: 'Age', type: 'string', format: '', description: 'time since metadata.creationTimestamp', priority: 0 },
];

export function toTable(items: Resource[], meta: { resourceVersion?: string; continue?: string }): object {
  return {
    kind: 'Table',
    apiVersion: 'meta.k8s.io/v1',
    metadata: meta,
    columnDefinitions: COLUMNS,
    rows: items.map((r) => ({
      cells: [r.metadata.name, accepted(r), age(r.metadata.creationTimestamp)],
      object: { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: r.metadata },
    })),
  };
}
