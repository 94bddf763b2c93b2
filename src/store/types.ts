// The management API's storage: objects by key, a global revision that is
// every object's resourceVersion (as etcd's mod_revision is in Kubernetes),
// compare-and-swap writes, and a watch that resumes from a revision.
// Backends: SQLite (one instance) and etcd (a fleet). Kubernetes object
// semantics (uid, generation, timestamps, validation) live above, in
// src/admin/api; a backend only stores JSON and orders changes.
import type { Resource } from '../resources/types.ts';

/** Where an object lives: `{group}/{plural}/{namespace}/{name}` ("" namespace for cluster-scoped kinds, "core" for the "" group). */
export interface ObjectKey {
  group: string;
  plural: string;
  namespace: string;
  name: string;
}

export function keyString(k: ObjectKey): string {
  return `${k.group || 'core'}/${k.plural}/${k.namespace}/${k.name}`;
}

/** The prefix of every key of one resource type, optionally in one namespace. */
export function prefixString(group: string, plural: string, namespace?: string): string {
  return `${group || 'core'}/${plural}/${namespace === undefined ? '' : `${namespace}/`}`;
}

export interface WatchEvent {
  type: 'ADDED' | 'MODIFIED' | 'DELETED';
  key: string;
  /** The object after the change (for DELETED: as it was, with the deletion's revision). */
  object: Resource;
  revision: number;
  /**
   * The object before the change, where the backend knows it: a watch with a
   * selector needs it to turn "stopped matching" into DELETED and "started
   * matching" into ADDED, as the Kubernetes watch cache does.
   */
  prev?: Resource;
}

export interface ListPage {
  items: Resource[];
  /** The revision the page was read at. */
  revision: number;
  /** Key of the last item when more remain past the limit. */
  continueAfter?: string;
}

export type StoreErrorCode = 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Expired' | 'Unavailable';

export class StoreError extends Error {
  readonly code: StoreErrorCode;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}

export interface Watch {
  close(): void;
}

export interface Store {
  readonly backend: string;
  /** The newest revision. */
  revision(): Promise<number>;
  get(key: string): Promise<Resource | undefined>;
  /**
   * Objects whose key starts with `prefix`, in key order, after `after` (a key),
   * at most `limit` (0 = all). `atRevision` asks for a consistent read at that
   * revision where the backend keeps history (etcd); others read the newest.
   */
  list(prefix: string, opts?: { after?: string; limit?: number; atRevision?: number }): Promise<ListPage>;
  /** Writes `object` (its resourceVersion is set by the store); AlreadyExists if the key is taken. */
  create(key: string, object: Resource): Promise<Resource>;
  /** Replaces the object; with `expected`, only if its revision is still that (else Conflict). NotFound if absent. */
  update(key: string, object: Resource, expected?: number): Promise<Resource>;
  /** Removes it and returns it as it was; with `expected`, only at that revision. */
  delete(key: string, expected?: number): Promise<Resource>;
  /**
   * Every change under `prefix` after revision `from`, in order, then live.
   * Expired (thrown synchronously or reported through onError) when `from`
   * is older than the history kept.
   */
  watch(prefix: string, from: number, onEvent: (e: WatchEvent) => void, onError: (err: Error) => void): Promise<Watch>;
  close(): Promise<void>;
}

/** The resourceVersion as the store's revision number (NaN when it is not one). */
export function revisionOf(r: Resource): number {
  const v = r.metadata?.resourceVersion;
  return typeof v === 'string' && /^\d+$/.test(v) ? Number(v) : NaN;
}

export function withRevision(obj: Resource, revision: number): Resource {
  return { ...obj, metadata: { ...obj.metadata, resourceVersion: String(revision) } };
}
