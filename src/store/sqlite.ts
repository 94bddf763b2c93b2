// The standalone store: one SQLite file under the data directory (node:sqlite).
// WAL journal with synchronous=FULL and one transaction per write, so that a
// write the API acknowledged survives kill -9 and power loss alike. Every
// write also appends to an event log (bounded) that watches resume from.
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Resource } from '../resources/types.ts';
import { StoreError, withRevision, type ListPage, type Store, type Watch, type WatchEvent } from './types.ts';
import { PrefixListeners } from './listeners.ts';

/** Events kept for watches that resume; older resourceVersions get 410 Expired. */
const HISTORY = 20_000;

export class SqliteStore implements Store {
  readonly backend = 'sqlite';
  readonly file: string;
  private db: DatabaseSync;
  private listeners = new PrefixListeners();
  private rev: number;
  private compacted: number;
  private q: Record<'get' | 'put' | 'del' | 'event' | 'events' | 'list' | 'listAfter' | 'setMeta' | 'trim' | 'revision' | 'listAt' | 'changedSince' | 'stateAt', StatementSync>;

  constructor(dataDir: string) {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    this.file = join(dataDir, 'store.db');
    this.db = new DatabaseSync(this.file);
    this.db.exec(`
      PRAGMA journal_mode = WAL;
      PRAGMA synchronous = FULL;
      PRAGMA busy_timeout = 5000;
      CREATE TABLE IF NOT EXISTS objects (key TEXT PRIMARY KEY, rev INTEGER NOT NULL, body TEXT NOT NULL) WITHOUT ROWID;
      CREATE TABLE IF NOT EXISTS events (rev INTEGER PRIMARY KEY, type TEXT NOT NULL, key TEXT NOT NULL, body TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
    `);
    // The object before each change (watch selectors); databases made before it gain the column.
    const cols = this.db.prepare('PRAGMA table_info(events)').all() as { name: string }[];
    if (!cols.some((c) => c.name === 'prev')) this.db.exec('ALTER TABLE events ADD COLUMN prev TEXT');
    // Paging at a revision reads an object's state then from the event log, by key.
    this.db.exec('CREATE INDEX IF NOT EXISTS events_key ON events (key, rev)');
    const metaValue = (name: string) => (this.db.prepare('SELECT value FROM meta WHERE name = ?').get(name) as { value: number } | undefined)?.value ?? 0;
    const lastEvent = (this.db.prepare('SELECT max(rev) AS rev FROM events').get() as { rev: number | null }).rev ?? 0;
    this.rev = Math.max(metaValue('revision'), lastEvent);
    this.compacted = metaValue('compacted');
    this.q = {
      get: this.db.prepare('SELECT rev, body FROM objects WHERE key = ?'),
      put: this.db.prepare('INSERT INTO objects (key, rev, body) VALUES (?, ?, ?) ON CONFLICT(key) DO UPDATE SET rev = excluded.rev, body = excluded.body'),
      del: this.db.prepare('DELETE FROM objects WHERE key = ?'),
      event: this.db.prepare('INSERT INTO events (rev, type, key, body, prev) VALUES (?, ?, ?, ?, ?)'),
      events: this.db.prepare('SELECT rev, type, key, body, prev FROM events WHERE rev > ? ORDER BY rev'),
      // Prefix ranges as [prefix, prefix + U+FFFF): keys are ASCII, so this is exactly "starts with".
      list: this.db.prepare('SELECT key, rev, body FROM objects WHERE key >= ? AND key < ? ORDER BY key LIMIT ?'),
      listAfter: this.db.prepare('SELECT key, rev, body FROM objects WHERE key > ? AND key < ? ORDER BY key LIMIT ?'),
      setMeta: this.db.prepare('INSERT INTO meta (name, value) VALUES (?, ?) ON CONFLICT(name) DO UPDATE SET value = excluded.value'),
      trim: this.db.prepare('DELETE FROM events WHERE rev <= ?'),
      revision: this.db.prepare("SELECT value FROM meta WHERE name = 'revision'"),
      // A page at revision R: the objects unchanged since R, plus each changed key's state at R from the event log.
      listAt: this.db.prepare('SELECT key, rev, body FROM objects WHERE key > ? AND key < ? AND rev <= ? ORDER BY key LIMIT ?'),
      changedSince: this.db.prepare('SELECT DISTINCT key FROM events WHERE rev > ? AND key > ? AND key < ?'),
      stateAt: this.db.prepare('SELECT rev, type, body FROM events WHERE key = ? AND rev <= ? ORDER BY rev DESC LIMIT 1'),
    };
  }

  async revision(): Promise<number> {
    return this.rev;
  }

  async get(key: string): Promise<Resource | undefined> {
    const row = this.q.get.get(key) as { rev: number; body: string } | undefined;
    return row ? withRevision(JSON.parse(row.body), row.rev) : undefined;
  }

  async list(prefix: string, opts: { after?: string; limit?: number; atRevision?: number } = {}): Promise<ListPage> {
    const limit = opts.limit && opts.limit > 0 ? opts.limit : -1;
    const end = prefix + '\uffff';
    if (opts.atRevision !== undefined && opts.atRevision < this.rev) return this.listAt(prefix, end, opts.after ?? '', limit, opts.atRevision);
    const rows = (opts.after ? this.q.listAfter.all(opts.after, end, limit === -1 ? -1 : limit + 1) : this.q.list.all(prefix, end, limit === -1 ? -1 : limit + 1)) as { key: string; rev: number; body: string }[];
    const more = limit !== -1 && rows.length > limit;
    const items = (more ? rows.slice(0, limit) : rows).map((r) => withRevision(JSON.parse(r.body), r.rev));
    return { items, revision: this.rev, continueAfter: more ? rows[limit - 1].key : undefined };
  }

  /**
   * A page as the store was at `rev` (the apiserver's consistent paging: every page of a
   * list reads the revision of its first page). Objects written since come from the
   * event log, which holds every version back to the compaction point; older → Expired.
   */
  private listAt(prefix: string, end: string, after: string, limit: number, rev: number): ListPage {
    if (rev < this.compacted) throw new StoreError('Expired', `revision ${rev} is compacted (history starts after ${this.compacted})`);
    const from = after === '' ? prefix : after;
    // Keys are ASCII, so "> prefix" misses no key of the prefix but the bare prefix, which is no object key.
    const changed = (this.q.changedSince.all(rev, from, end) as { key: string }[]).map((r) => r.key);
    const then: { key: string; rev: number; body: string }[] = [];
    for (const key of changed) {
      const st = this.q.stateAt.get(key, rev) as { rev: number; type: string; body: string } | undefined;
      if (st && st.type !== 'DELETED') then.push({ key, rev: st.rev, body: st.body });
    }
    const want = limit === -1 ? -1 : limit + 1;
    const unchanged = this.q.listAt.all(from, end, rev, want) as { key: string; rev: number; body: string }[];
    const rows = [...unchanged, ...then].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    const more = limit !== -1 && rows.length > limit;
    const page = more ? rows.slice(0, limit) : rows;
    return { items: page.map((r) => withRevision(JSON.parse(r.body), r.rev)), revision: rev, continueAfter: more ? page[limit - 1].key : undefined };
  }

  async create(key: string, object: Resource): Promise<Resource> {
    return this.write(key, 'ADDED', (cur) => {
      if (cur) throw new StoreError('AlreadyExists', `${key} already exists`);
      return object;
    });
  }

  async update(key: string, object: Resource, expected?: number): Promise<Resource> {
    return this.write(key, 'MODIFIED', (cur) => {
      if (!cur) throw new StoreError('NotFound', `${key} not found`);
      if (expected !== undefined && cur.rev !== expected) throw new StoreError('Conflict', `${key} was modified (resourceVersion ${cur.rev}, not ${expected})`);
      return object;
    });
  }

  async delete(key: string, expected?: number): Promise<Resource> {
    return this.write(key, 'DELETED', (cur) => {
      if (!cur) throw new StoreError('NotFound', `${key} not found`);
      if (expected !== undefined && cur.rev !== expected) throw new StoreError('Conflict', `${key} was modified (resourceVersion ${cur.rev}, not ${expected})`);
      return JSON.parse(cur.body) as Resource;
    });
  }

  /** One transaction: read the current row, decide, write row + event + revision, commit; then notify. */
  private write(key: string, type: WatchEvent['type'], decide: (cur: { rev: number; body: string } | undefined) => Resource): Resource {
    const db = this.db;
    db.exec('BEGIN IMMEDIATE');
    let event: WatchEvent;
    try {
      const cur = this.q.get.get(key) as { rev: number; body: string } | undefined;
      const next = decide(cur);
      // Read inside the transaction: another process on the same file may have written since.
      const rev = Math.max(this.rev, (this.q.revision.get() as { value: number } | undefined)?.value ?? 0) + 1;
      const stored = { ...next, metadata: { ...next.metadata } };
      delete stored.metadata.resourceVersion;
      const body = JSON.stringify(stored);
      if (type === 'DELETED') this.q.del.run(key);
      else this.q.put.run(key, rev, body);
      this.q.event.run(rev, type, key, body, type === 'MODIFIED' ? (cur?.body ?? null) : null);
      this.q.setMeta.run('revision', rev);
      if (rev % 1000 === 0 && rev > HISTORY) {
        this.q.trim.run(rev - HISTORY);
        this.q.setMeta.run('compacted', rev - HISTORY);
      }
      db.exec('COMMIT');
      this.rev = rev;
      if (rev % 1000 === 0 && rev > HISTORY) this.compacted = rev - HISTORY;
      event = { type, key, object: withRevision(stored, rev), revision: rev, ...(type === 'MODIFIED' && cur ? { prev: withRevision(JSON.parse(cur.body), cur.rev) } : {}) };
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw err;
    }
    this.listeners.emit(event);
    return event.object;
  }

  async watch(prefix: string, from: number, onEvent: (e: WatchEvent) => void): Promise<Watch> {
    if (from < this.compacted) throw new StoreError('Expired', `resourceVersion ${from} is too old (history starts after ${this.compacted})`);
    // History and subscription in one synchronous step: no write can fall between them.
    const rows = from < this.rev ? (this.q.events.all(from) as { rev: number; type: WatchEvent['type']; key: string; body: string; prev: string | null }[]) : [];
    const watch = this.listeners.add(prefix, onEvent);
    for (const r of rows) {
      if (!r.key.startsWith(prefix)) continue;
      onEvent({ type: r.type, key: r.key, object: withRevision(JSON.parse(r.body), r.rev), revision: r.rev, ...(r.prev ? { prev: JSON.parse(r.prev) as Resource } : {}) });
    }
    return watch;
  }

  async close(): Promise<void> {
    this.listeners.clear();
    if (this.db.isOpen) this.db.close();
  }
}
