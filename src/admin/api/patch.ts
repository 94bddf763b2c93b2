// PATCH bodies: JSON merge patch (RFC 7386), JSON patch (RFC 6902) and
// strategic merge patch (what kubectl sends for the core kinds). Pure
// functions over plain JSON; a patch that cannot apply is a 422/400 ApiError.
import { ApiError } from './errors.ts';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };

function isObject(v: unknown): v is Record<string, Json> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

export function mergePatch(target: unknown, patch: unknown): Json {
  if (!isObject(patch)) return patch as Json;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

// --- RFC 6902 ---

interface Op {
  op: string;
  path: string;
  value?: Json;
  from?: string;
}

function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw new ApiError('Invalid', `JSON pointer "${path}" must start with "/"`);
  return path.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function parentOf(doc: Json, parts: string[], path: string): { parent: Json; last: string } {
  let cur: Json = doc;
  for (const p of parts.slice(0, -1)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, p, path, false)];
    else if (isObject(cur) && Object.hasOwn(cur, p)) cur = cur[p];
    else throw new ApiError('Invalid', `the path "${path}" does not exist`);
  }
  return { parent: cur, last: parts.at(-1)! };
}

function arrayIndex(arr: Json[], seg: string, path: string, forAdd: boolean): number {
  if (forAdd && seg === '-') return arr.length;
  if (!/^(0|[1-9]\d*)$/.test(seg)) throw new ApiError('Invalid', `"${seg}" in "${path}" is not an array index`);
  const i = Number(seg);
  if (i > arr.length || (!forAdd && i >= arr.length)) throw new ApiError('Invalid', `index ${i} in "${path}" is out of range`);
  return i;
}

function getAt(doc: Json, path: string): Json {
  let cur: Json = doc;
  for (const p of pointer(path)) {
    if (Array.isArray(cur)) cur = cur[arrayIndex(cur, p, path, false)];
    else if (isObject(cur) && Object.hasOwn(cur, p)) cur = cur[p];
    else throw new ApiError('Invalid', `the path "${path}" does not exist`);
  }
  return cur;
}

function removeAt(doc: Json, path: string): Json {
  const parts = pointer(path);
  if (parts.length === 0) throw new ApiError('Invalid', 'cannot remove the whole document');
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) return parent.splice(arrayIndex(parent, last, path, false), 1)[0];
  if (isObject(parent) && Object.hasOwn(parent, last)) {
    const v = parent[last];
    delete parent[last];
    return v;
  }
  throw new ApiError('Invalid', `the path "${path}" does not exist`);
}

function addAt(doc: Json, path: string, value: Json): Json {
  const parts = pointer(path);
  if (parts.length === 0) return value;
  const { parent, last } = parentOf(doc, parts, path);
  if (Array.isArray(parent)) parent.splice(arrayIndex(parent, last, path, true), 0, value);
  else if (isObject(parent)) parent[last] = value;
  else throw new ApiError('Invalid', `the path "${path}" does not exist`);
  return doc;
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}

export function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (isObject(v)) return Object.fromEntries(Object.keys(v).sort().map((k) => [k, canonical(v[k])]));
  return v;
}

export function jsonPatch(target: unknown, ops: unknown): Json {
  if (!Array.isArray(ops)) throw new ApiError('BadRequest', 'a JSON patch must be a list of operations');
  let doc = structuredClone(target) as Json;
  for (const [i, raw] of ops.entries()) {
    if (!isObject(raw) || typeof raw.op !== 'string' || typeof raw.path !== 'string') throw new ApiError('BadRequest', `operation ${i} needs "op" and "path"`);
    const op = raw as unknown as Op;
    switch (op.op) {
      case 'add':
        if (!('value' in op)) throw new ApiError('BadRequest', `operation ${i} (add) needs "value"`);
        doc = addAt(doc, op.path, structuredClone(op.value) as Json);
        break;
      case 'remove':
        removeAt(doc, op.path);
        break;
      case 'replace':
        if (!('value' in op)) throw new ApiError('BadRequest', `operation ${i} (replace) needs "value"`);
        if (op.path === '') doc = structuredClone(op.value) as Json;
        else {
          removeAt(doc, op.path);
          doc = addAt(doc, op.path, structuredClone(op.value) as Json);
        }
        break;
      case 'move': {
        if (typeof op.from !== 'string') throw new ApiError('BadRequest', `operation ${i} (move) needs "from"`);
        const v = removeAt(doc, op.from);
        doc = addAt(doc, op.path, v);
        break;
      }
      case 'copy':
        if (typeof op.from !== 'string') throw new ApiError('BadRequest', `operation ${i} (copy) needs "from"`);
        doc = addAt(doc, op.path, structuredClone(getAt(doc, op.from)));
        break;
      case 'test':
        if (!deepEqual(getAt(doc, op.path), op.value)) throw new ApiError('Invalid', `test operation ${i} failed: "${op.path}" differs`);
        break;
      default:
        throw new ApiError('BadRequest', `operation ${i}: unknown op "${op.op}"`);
    }
  }
  return doc;
}

// --- strategic merge patch ---

/**
 * List fields of the core kinds that merge by key instead of being replaced
 * (the patchMergeKey tags of k8s.io/api), by dotted path from the object root.
 */
const MERGE_KEYS: Record<string, Record<string, string>> = {
  Service: { 'spec.ports': 'port' },
  EndpointSlice: {},
};
const PRIMITIVE_MERGE: Record<string, Set<string>> = {
  Namespace: new Set(['spec.finalizers', 'metadata.finalizers']),
};

/**
 * Strategic merge patch: a merge patch where lists with a merge key merge
 * item by item, and the directives kubectl writes ($patch, $retainKeys,
 * $setElementOrder/..., $deleteFromPrimitiveList/...) are honoured.
 */
export function strategicMergePatch(kind: string, target: unknown, patch: unknown): Json {
  return smp(target, patch, '', MERGE_KEYS[kind] ?? {}, PRIMITIVE_MERGE[kind] ?? new Set(['metadata.finalizers']));
}

function smp(target: unknown, patch: unknown, path: string, keys: Record<string, string>, primitives: Set<string>): Json {
  if (!isObject(patch)) return patch as Json;
  if (patch.$patch === 'replace') {
    const { $patch: _, ...rest } = patch;
    return stripDirectives(rest);
  }
  if (patch.$patch === 'delete') return null;
  const out: Record<string, Json> = isObject(target) ? { ...target } : {};
  const retain = Array.isArray(patch.$retainKeys) ? new Set(patch.$retainKeys as string[]) : undefined;
  for (const [k, v] of Object.entries(patch)) {
    if (k === '$patch' || k === '$retainKeys' || k.startsWith('$setElementOrder/')) continue;
    if (k.startsWith('$deleteFromPrimitiveList/')) {
      const field = k.slice('$deleteFromPrimitiveList/'.length);
      const drop = new Set((Array.isArray(v) ? v : []).map((x) => JSON.stringify(x)));
      if (Array.isArray(out[field])) out[field] = (out[field] as Json[]).filter((x) => !drop.has(JSON.stringify(x)));
      continue;
    }
    const childPath = path ? `${path}.${k}` : k;
    if (v === null) delete out[k];
    else if (Array.isArray(v) && keys[childPath]) out[k] = mergeList(out[k], v, keys[childPath]);
    else if (Array.isArray(v) && primitives.has(childPath)) out[k] = [...new Set([...(Array.isArray(out[k]) ? (out[k] as Json[]) : []), ...v].map((x) => JSON.stringify(x)))].map((x) => JSON.parse(x));
    else out[k] = smp(out[k], v, childPath, keys, primitives);
  }
  if (retain) for (const k of Object.keys(out)) if (!retain.has(k)) delete out[k];
  return out;
}

function mergeList(current: unknown, patch: Json[], key: string): Json[] {
  const out = Array.isArray(current) ? [...(current as Json[])] : [];
  for (const item of patch) {
    if (!isObject(item)) continue;
    const i = out.findIndex((x) => isObject(x) && x[key] === item[key]);
    if (item.$patch === 'delete') {
      if (i >= 0) out.splice(i, 1);
    } else if (i >= 0) out[i] = mergePatch(out[i], stripDirectives(item));
    else out.push(stripDirectives(item));
  }
  return out;
}

function stripDirectives(v: Json): Json {
  if (Array.isArray(v)) return v.map(stripDirectives);
  if (!isObject(v)) return v;
  return Object.fromEntries(Object.entries(v).filter(([k]) => !k.startsWith('$')).map(([k, x]) => [k, stripDirectives(x)]));
}
