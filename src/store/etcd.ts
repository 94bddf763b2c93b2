// The fleet store: etcd v3, the way the Kubernetes API server uses it. An
// object's resourceVersion is its key's mod_revision; writes are
// transactions that compare it (create: create_revision == 0); lists read
// one revision (consistent paging); watches start at a revision, and a
// compacted one is 410 Expired. Every instance on the same etcd and prefix
// sees every change through its own watch.
import { Etcd3, type IKeyValue } from 'etcd3';
import type { Resource } from '../resources/types.ts';
import { StoreError, withRevision, type ListPage, type Store, type Watch, type WatchEvent } from './types.ts';

function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i] < 0xff) {
      end[i]++;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** Recent events kept for watches that resume. */
const RING = 10_000;

function unavailable(err: unknown): StoreError {
  return new StoreError('Unavailable', `etcd: ${(err as Error).message}`);
}

export class EtcdStore implements Store {
  readonly backend = 'etcd';
  private client: Etcd3;
  private root: string;

  private constructor(client: Etcd3, root: string) {
    this.client = client;
    this.root = root;
  }

  /** Connects and checks that etcd answers (a start against an unreachable etcd fails with a clear error). */
  static async open(endpoints: string[], prefix: string): Promise<EtcdStore> {
    const client = new Etcd3({ hosts: endpoints, dialTimeout: 3000 });
    const store = new EtcdStore(client, prefix.endsWith('/') ? prefix : `${prefix}/`);
    try {
      await client.kv.range({ key: Buffer.from(store.root), limit: 1 }, { deadline: Date.now() + 5000 });
    } catch (err) {
      client.close();
      throw new Error(`etcd at ${endpoints.join(', ')} does not answer: ${(err as Error).message}`);
    }
    return store;
  }

  private k(key: string): Buffer {
    return Buffer.from(this.root + key);
  }

  private decode(kv: IKeyValue): Resource {
    return withRevision(JSON.parse(kv.value.toString('utf8')) as Resource, Number(kv.mod_revision));
  }

  private body(object: Resource): Buffer {
    const stored = { ...object, metadata: { ...object.metadata } };
    delete stored.metadata.resourceVersion;
    return Buffer.from(JSON.stringify(stored));
  }

  async revision(): Promise<number> {
    try {
      const r = await this.client.kv.range({ key: this.k(''), limit: 1, keys_only: true });
      return Number(r.header.revision);
    } catch (err) {
      throw unavailable(err);
    }
  }

  async get(key: string): Promise<Resource | undefined> {
    let r;
    try {
      r = await this.client.kv.range({ key: this.k(key) });
    } catch (err) {
      throw unavailable(err);
    }
    return r.kvs[0] ? this.decode(r.kvs[0]) : undefined;
  }

  async list(prefix: string, opts: { after?: string; limit?: number; atRevision?: number } = {}): Promise<ListPage> {
    const from = opts.after !== undefined ? Buffer.concat([this.k(opts.after), Buffer.from([0])]) : this.k(prefix);
    let r;
    try {
      r = await this.client.kv.range({ key: from, range_end: prefixEnd(this.k(prefix)), limit: opts.limit ?? 0, revision: opts.atRevision ?? 0 });
    } catch (err) {
      if (/compacted/i.test((err as Error).message)) throw new StoreError('Expired', 'the list\'s revision was compacted; start the list again');
      throw unavailable(err);
    }
    const items = r.kvs.map((kv) => this.decode(kv));
    const last = r.kvs.at(-1);
    return { items, revision: opts.atRevision || Number(r.header.revision), continueAfter: r.more && last ? last.key.toString('utf8').slice(this.root.length) : undefined };
  }

  private async txn(key: string, compare: object, put: Resource | undefined): Promise<{ ok: boolean; revision: number; current?: IKeyValue; previous?: IKeyValue }> {
    const k = this.k(key);
    try {
      const r = await this.client.kv.txn({
        compare: [{ key: k, ...compare }],
        success: [put ? { request_put: { key: k, value: this.body(put), prev_kv: true } } : { request_delete_range: { key: k, prev_kv: true } }],
        failure: [{ request_range: { key: k } }],
      });
      const op = r.responses[0];
      if (r.succeeded) {
        const previous = put ? op?.response_put?.prev_kv : op?.response_delete_range?.prev_kvs?.[0];
        return { ok: true, revision: Number(r.header.revision), previous: previous ?? undefined };
      }
      return { ok: false, revision: Number(r.header.revision), current: op?.response_range?.kvs?.[0] };
    } catch (err) {
      throw unavailable(err);
    }
  }

  async create(key: string, object: Resource): Promise<Resource> {
    const r = await this.txn(key, { target: 'Create', result: 'Equal', create_revision: 0 }, object);
    if (!r.ok) throw new StoreError('AlreadyExists', `${key} already exists`);
    return withRevision(JSON.parse(this.body(object).toString('utf8')), r.revision);
  }

  async update(key: string, object: Resource, expected?: number): Promise<Resource> {
    const compare = expected !== undefined ? { target: 'Mod', result: 'Equal', mod_revision: expected } : { target: 'Create', result: 'Greater', create_revision: 0 };
    const r = await this.txn(key, compare, object);
    if (!r.ok) {
      if (!r.current) throw new StoreError('NotFound', `${key} not found`);
      throw new StoreError('Conflict', `${key} was modified (resourceVersion ${r.current.mod_revision}, not ${expected})`);
    }
    return withRevision(JSON.parse(this.body(object).toString('utf8')), r.revision);
  }

  async delete(key: string, expected?: number): Promise<Resource> {
    const compare = expected !== undefined ? { target: 'Mod', result: 'Equal', mod_revision: expected } : { target: 'Create', result: 'Greater', create_revision: 0 };
    const r = await this.txn(key, compare, undefined);
    if (!r.ok) {
      if (!r.current) throw new StoreError('NotFound', `${key} not found`);
      throw new StoreError('Conflict', `${key} was modified (resourceVersion ${r.current.mod_revision}, not ${expected})`);
    }
    if (!r.previous) throw new StoreError('NotFound', `${key} not found`);
    return withRevision(JSON.parse(r.previous.value.toString('utf8')), r.revision);
  }

  /**
   * Watches are served from one etcd watch per instance (as the Kubernetes
   * API server's watch cache does) and a ring of its recent events; only a
   * resume from before this instance started opens a watch of its own.
   */
  async watch(prefix: string, from: number, onEvent: (e: WatchEvent) => void, onError: (err: Error) => void): Promise<Watch> {
    await this.ensureRoot();
    if (from >= this.ringStart) {
      const listener = { prefix, onEvent, onError };
      this.listeners.add(listener);
      for (const e of this.ring) if (e.revision > from && e.key.startsWith(prefix)) onEvent(e);
      return { close: () => void this.listeners.delete(listener) };
    }
    // Older than the ring: etcd's own history, if not compacted.
    try {
      await this.client.kv.range({ key: this.k(prefix), limit: 1, revision: from + 1 });
    } catch (err) {
      if (/compact/i.test((err as Error).message)) throw new StoreError('Expired', `resourceVersion ${from} was compacted`);
      throw unavailable(err);
    }
    const w = await this.openWatch(prefix, from, onEvent, onError);
    this.own.add(w);
    return {
      close: () => {
        this.own.delete(w);
        void w.cancel().catch(() => {});
      },
    };
  }

  private ring: WatchEvent[] = [];
  private ringStart = Infinity;
  private listeners = new Set<{ prefix: string; onEvent: (e: WatchEvent) => void; onError: (err: Error) => void }>();
  private rootWatch: Promise<void> | undefined;
  private rootWatcher: { cancel(): Promise<void> } | undefined;
  private own = new Set<{ cancel(): Promise<void> }>();

  private ensureRoot(): Promise<void> {
    this.rootWatch ??= (async () => {
      const rev = await this.revision();
      this.rootWatcher = await this.openWatch('', rev, (e) => {
        this.ring.push(e);
        if (this.ring.length > RING) this.ringStart = this.ring.splice(0, this.ring.length - RING).at(-1)!.revision;
        for (const l of this.listeners) if (e.key.startsWith(l.prefix)) l.onEvent(e);
      }, (err) => {
        for (const l of this.listeners) l.onError(err);
      });
      this.ringStart = rev;
    })().catch((err: unknown) => {
      this.rootWatch = undefined; // the next watch tries again
      throw err;
    });
    return this.rootWatch;
  }

  private async openWatch(prefix: string, from: number, onEvent: (e: WatchEvent) => void, onError: (err: Error) => void) {
    let watcher;
    try {
      watcher = await this.client.watch().prefix(this.root + prefix).startRevision(String(from + 1)).withPreviousKV().create();
    } catch (err) {
      if (/compact/i.test((err as Error).message)) throw new StoreError('Expired', (err as Error).message);
      throw unavailable(err);
    }
    watcher.on('put', (kv, previous) => {
      const key = kv.key.toString('utf8').slice(this.root.length);
      const prev = kv.version !== '1' && previous ? this.decode(previous) : undefined;
      onEvent({ type: kv.version === '1' ? 'ADDED' : 'MODIFIED', key, object: this.decode(kv), revision: Number(kv.mod_revision), ...(prev ? { prev } : {}) });
    });
    watcher.on('delete', (kv, previous) => {
      const key = kv.key.toString('utf8').slice(this.root.length);
      if (!previous) return; // nothing to show; the key's deletion still moved the revision on
      const object = withRevision(JSON.parse(previous.value.toString('utf8')), Number(kv.mod_revision));
      onEvent({ type: 'DELETED', key, object, revision: Number(kv.mod_revision) });
    });
    watcher.on('error', (err) => {
      onError(/compact/i.test(err.message) ? new StoreError('Expired', err.message) : err);
    });
    return watcher;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    // Watchers cancelled before the client closes: else the watch stream keeps reconnecting (and the process alive).
    await Promise.all([this.rootWatcher, ...this.own].map((w) => w?.cancel().catch(() => {})));
    this.client.close();
  }
}
