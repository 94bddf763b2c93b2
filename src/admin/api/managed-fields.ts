// Server-side apply (`kubectl apply --server-side`): who manages which field
// (metadata.managedFields, FieldsV1), conflicts between managers, and removal
// of the fields an applier stopped setting. Lists are atomic, as for a CRD
// without list-type markers: a list is one field.
import type { Resource } from '../../resources/types.ts';
import { ApiError, type Cause } from './errors.ts';
import { canonical } from './patch.ts';

type Path = string[];

export interface ManagedFieldsEntry {
  manager: string;
  operation: 'Apply' | 'Update';
  apiVersion: string;
  time: string;
  fieldsType: 'FieldsV1';
  fieldsV1: Record<string, unknown>;
  subresource?: string;
}

/** Server-set metadata: never a managed field. */
const SERVER_META = new Set(['name', 'namespace', 'uid', 'resourceVersion', 'generation', 'creationTimestamp', 'managedFields', 'selfLink', 'deletionTimestamp', 'generateName']);

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** The leaf fields an object sets (maps recursed, lists and scalars are leaves), as JSON-encoded paths. */
export function fieldSet(obj: Resource): Set<string> {
  const out = new Set<string>();
  const walk = (v: unknown, path: Path) => {
    if (isObject(v) && Object.keys(v).length > 0) for (const [k, x] of Object.entries(v)) walk(x, [...path, k]);
    else out.add(JSON.stringify(path));
  };
  for (const [k, v] of Object.entries(obj)) {
    if (k === 'apiVersion' || k === 'kind' || k === 'status') continue;
    if (k === 'metadata' && isObject(v)) {
      for (const [mk, mv] of Object.entries(v)) if (!SERVER_META.has(mk)) walk(mv, ['metadata', mk]);
    } else walk(v, [k]);
  }
  return out;
}

export function toFieldsV1(set: Set<string>): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const p of set) {
    let cur = root;
    for (const seg of JSON.parse(p) as Path) cur = (cur[`f:${seg}`] ??= {}) as Record<string, unknown>;
  }
  return root;
}

export function fromFieldsV1(f: unknown): Set<string> {
  const out = new Set<string>();
  const walk = (node: unknown, path: Path) => {
    const keys = isObject(node) ? Object.keys(node).filter((k) => k.startsWith('f:')) : [];
    if (keys.length === 0) {
      if (path.length > 0) out.add(JSON.stringify(path));
      return;
    }
    for (const k of keys) walk((node as Record<string, unknown>)[k], [...path, k.slice(2)]);
  };
  walk(f, []);
  return out;
}

function valueAt(obj: unknown, path: Path): unknown {
  let cur = obj;
  for (const seg of path) {
    if (!isObject(cur)) return undefined;
    cur = cur[seg];
  }
  return cur;
}

function setAt(obj: Record<string, unknown>, path: Path, value: unknown): void {
  let cur = obj;
  for (const seg of path.slice(0, -1)) {
    if (!isObject(cur[seg])) cur[seg] = {};
    cur = cur[seg] as Record<string, unknown>;
  }
  cur[path.at(-1)!] = structuredClone(value);
}

function deleteAt(obj: Record<string, unknown>, path: Path): void {
  const chain: Record<string, unknown>[] = [obj];
  for (const seg of path.slice(0, -1)) {
    const next = chain.at(-1)![seg];
    if (!isObject(next)) return;
    chain.push(next);
  }
  delete chain.at(-1)![path.at(-1)!];
  // Maps left empty by the removal go too.
  for (let i = chain.length - 1; i > 0; i--) {
    if (Object.keys(chain[i]).length > 0) break;
    delete chain[i - 1][path[i - 1]];
  }
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

function entriesOf(r: Resource | undefined): ManagedFieldsEntry[] {
  const m = r?.metadata?.managedFields;
  return Array.isArray(m) ? (m as ManagedFieldsEntry[]).filter((e) => isObject(e) && typeof e.manager === 'string') : [];
}

function entry(manager: string, operation: ManagedFieldsEntry['operation'], apiVersion: string, set: Set<string>): ManagedFieldsEntry {
  return { manager, operation, apiVersion, time: new Date().toISOString().replace(/\.\d+Z$/, 'Z'), fieldsType: 'FieldsV1', fieldsV1: toFieldsV1(set) };
}

function withEntries(entries: { e: ManagedFieldsEntry; set: Set<string> }[]): ManagedFieldsEntry[] {
  return entries.filter((x) => x.set.size > 0).map((x) => ({ ...x.e, fieldsV1: toFieldsV1(x.set) }));
}

/**
 * The object after `manager` applies `applied` onto `current` (undefined: create).
 * Throws 409 Conflict naming each field another manager set to a different
 * value, unless `force`, which takes those fields over.
 */
export function serverSideApply(current: Resource | undefined, applied: Resource, manager: string, force: boolean): Resource {
  const mine = fieldSet(applied);
  if (!current) return { ...applied, metadata: { ...applied.metadata, managedFields: [entry(manager, 'Apply', applied.apiVersion, mine)] } };
  const others = entriesOf(current)
    .filter((e) => !(e.manager === manager && e.operation === 'Apply'))
    .map((e) => ({ e, set: fromFieldsV1(e.fieldsV1) }));
  const conflicts: Cause[] = [];
  for (const f of mine) {
    const path = JSON.parse(f) as Path;
    for (const o of others) {
      if (o.set.has(f) && !same(valueAt(current, path), valueAt(applied, path))) {
        conflicts.push({ reason: 'FieldManagerConflict', message: `conflict with "${o.e.manager}"${o.e.operation === 'Update' ? ' using ' + o.e.apiVersion : ''}`, field: `.${path.join('.')}` });
        if (force) o.set.delete(f);
      }
    }
  }
  if (conflicts.length > 0 && !force) {
    throw new ApiError('Conflict', `Apply failed with ${conflicts.length} conflict${conflicts.length > 1 ? 's' : ''}: ${conflicts.map((c) => `${c.message}: ${c.field}`).join('; ')}`, { causes: conflicts });
  }
  const before = entriesOf(current).find((e) => e.manager === manager && e.operation === 'Apply');
  const owned = before ? fromFieldsV1(before.fieldsV1) : new Set<string>();
  const next = structuredClone(current) as Resource & Record<string, unknown>;
  for (const f of owned) {
    if (mine.has(f) || others.some((o) => o.set.has(f))) continue;
    deleteAt(next, JSON.parse(f));
  }
  for (const f of mine) {
    const path = JSON.parse(f) as Path;
    setAt(next, path, valueAt(applied, path));
  }
  const managed = withEntries([...others, { e: entry(manager, 'Apply', applied.apiVersion, mine), set: mine }]);
  return { ...next, metadata: { ...next.metadata, managedFields: managed } };
}

/** managedFields after a non-apply write by `manager`: it now owns what it changed; removed fields belong to no one. */
export function recordUpdate(previous: Resource | undefined, next: Resource, manager: string): ManagedFieldsEntry[] {
  const after = fieldSet(next);
  const changed = new Set<string>();
  for (const f of after) if (!previous || !same(valueAt(previous, JSON.parse(f)), valueAt(next, JSON.parse(f)))) changed.add(f);
  const entries = entriesOf(previous).map((e) => ({ e, set: fromFieldsV1(e.fieldsV1) }));
  for (const x of entries) {
    for (const f of x.set) if (!after.has(f) || (changed.has(f) && !(x.e.manager === manager && x.e.operation === 'Update'))) x.set.delete(f);
  }
  let own = entries.find((x) => x.e.manager === manager && x.e.operation === 'Update');
  if (!own) entries.push((own = { e: entry(manager, 'Update', next.apiVersion, new Set()), set: new Set() }));
  for (const f of changed) own.set.add(f);
  own.e = { ...own.e, time: entry(manager, 'Update', next.apiVersion, new Set()).time, apiVersion: next.apiVersion };
  return withEntries(entries);
}
