// Lists: one namespace or all, label/field selectors, limit/continue paging
// over the store merged with the read-only file objects, in key order.
// As the apiserver's chunked lists: every page reads the store as it was at
// the first page's resourceVersion (the continue token carries it and the last
// key), so writes between pages neither skip nor duplicate an object, nor show
// a change made after the first page (SQLite: the rows unchanged since, plus
// each changed object's state then from the event log; etcd: a read at that
// revision). Once that revision is compacted away (SQLite keeps the last
// 20,000 changes), a continue answers 410 Expired: start the list again.
// Kubernetes mode reads its cache, newest state, in key order.
import type { Resource } from '../../resources/types.ts';
import { apiVersionOf } from '../../resources/kinds/index.ts';
import { prefixString, StoreError, type Store } from '../../store/types.ts';
import { ApiError } from './errors.ts';
import type { Matcher } from './selectors.ts';
import type { Objects, Target } from './objects.ts';

export interface ListOptions {
  limit: number;
  continueToken?: string;
  match: Matcher;
}

export interface ListResult {
  items: Resource[];
  resourceVersion: string;
  continueToken?: string;
}

interface ContinueState {
  rv: number;
  after: string;
}

export function encodeContinue(s: ContinueState): string {
  return Buffer.from(JSON.stringify({ v: 'portcullis/v1', rv: s.rv, start: s.after })).toString('base64url');
}

function decodeContinue(token: string): ContinueState {
  try {
    const j = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { v?: string; rv?: number; start?: string };
    if (j.v === 'portcullis/v1' && typeof j.rv === 'number' && typeof j.start === 'string') return { rv: j.rv, after: j.start };
  } catch {
    // falls through to the error below
  }
  throw new ApiError('BadRequest', 'continue key is not valid: the token was not made by this server');
}

export function collectionPrefix(t: Target): string {
  return prefixString(t.info.group, t.info.plural, t.info.namespaced ? (t.namespace === '' ? undefined : t.namespace) : '');
}

/** One page: fills up to `limit` matching items, reading the store in chunks, as the apiserver does. */
export async function listObjects(store: Store, objects: Objects, files: Map<string, { resource: Resource }>, t: Target, opts: ListOptions): Promise<ListResult> {
  const prefix = collectionPrefix(t);
  const start = opts.continueToken ? decodeContinue(opts.continueToken) : undefined;
  if (start && !start.after.startsWith(prefix)) throw new ApiError('BadRequest', 'continue key is not valid: it belongs to another list');
  const fileKeys = [...files.keys()].filter((k) => k.startsWith(prefix)).sort();
  const limit = opts.limit > 0 ? opts.limit : Infinity;
  const items: Resource[] = [];
  let after = start?.after;
  let rv = start?.rv;
  let lastKey: string | undefined;
  let more = false;
  const chunk = Number.isFinite(limit) ? Math.max(limit, 50) : 0;
  for (;;) {
    let page;
    try {
      page = await store.list(prefix, { after, limit: chunk, atRevision: rv });
    } catch (err) {
      if (err instanceof StoreError && err.code === 'Expired') {
        throw new ApiError('Expired', 'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.');
      }
      throw err;
    }
    rv ??= page.revision;
    const storeEntries = page.items.map((r) => ({ key: keyOf(prefix, r, t), r }));
    const upTo = page.continueAfter;
    // File objects between the previous position and the end of this store page.
    const fileEntries = fileKeys.filter((k) => (after === undefined || k > after) && (upTo === undefined || k <= upTo)).map((k) => ({ key: k, r: objects.fileObject(k)! }));
    const merged = [...storeEntries, ...fileEntries].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    for (const e of merged) {
      if (items.length >= limit) {
        more = true;
        break;
      }
      lastKey = e.key;
      if (opts.match(e.r)) items.push(objects.present(e.r, t));
    }
    if (more) break;
    if (items.length >= limit) {
      // Full, and the page read ended exactly here: more remain if the store or the files have any past it.
      more = upTo !== undefined || fileKeys.some((k) => k > lastKey!);
      break;
    }
    if (upTo === undefined) break;
    after = upTo;
  }
  return { items, resourceVersion: String(rv), continueToken: more && lastKey ? encodeContinue({ rv: rv!, after: lastKey }) : undefined };
}

function keyOf(prefix: string, r: Resource, t: Target): string {
  const base = prefix.split('/').slice(0, 2).join('/');
  return `${base}/${t.info.namespaced ? (r.metadata.namespace ?? '') : ''}/${r.metadata.name}`;
}

export function listObject(t: Target, result: ListResult): object {
  const metadata: Record<string, string> = { resourceVersion: result.resourceVersion };
  if (result.continueToken) metadata.continue = result.continueToken;
  return { apiVersion: apiVersionOf(t.info.group, t.version), kind: `${t.info.kind}List`, metadata, items: result.items };
}
