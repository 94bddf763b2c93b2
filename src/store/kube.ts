// Kubernetes mode: the objects come from a Kubernetes API server (a real
// cluster's, or another Portcullis's management API, which speaks the same
// protocol). One list and one watch per kind of the registry, at its
// preferred version, across namespaces; a watch that ends is resumed from
// the last resourceVersion seen, and a 410 Expired relists the kind. Writes
// belong to the API server, so this store refuses them.
import { Agent, fetch, type Response } from 'undici';
import { KINDS, apiVersionOf, type KindInfo } from '../resources/kinds/index.ts';
import type { Resource } from '../resources/types.ts';
import { StoreError, keyString, type ListPage, type Store, type Watch, type WatchEvent } from './types.ts';
import { PrefixListeners } from './listeners.ts';

const HISTORY = 2000;
const PAGE = 500;

export class KubeStore implements Store {
  readonly backend = 'kubernetes';
  private server: string;
  private token: string | undefined;
  private cache = new Map<string, Resource>();
  private history: WatchEvent[] = [];
  private listeners = new PrefixListeners();
  private rev = 0;
  private aborts = new Set<AbortController>();
  private closed = false;
  private started: Promise<void> | undefined;
  /** Kinds the server does not serve (404 on list): left out, not an error. */
  readonly missing: string[] = [];

  private agent: Agent;

  /** `ca`: PEM of the CA the API server's certificate is checked against (else the system's). */
  constructor(server: string, token?: string, ca?: string) {
    this.server = server.replace(/\/+$/, '');
    this.token = token;
    this.agent = new Agent({ connect: ca ? { ca } : {}, bodyTimeout: 0 });
  }

  private headers(): Record<string, string> {
    return { accept: 'application/json', ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) };
  }

  private base(k: KindInfo): string {
    const v = k.versions[0];
    return k.group === '' ? `${this.server}/api/${v}/${k.plural}` : `${this.server}/apis/${k.group}/${v}/${k.plural}`;
  }

  private keyOf(k: KindInfo, r: Resource): string {
    return keyString({ group: k.group, plural: k.plural, namespace: k.namespaced ? (r.metadata.namespace ?? 'default') : '', name: r.metadata.name });
  }

  private ensureStarted(): Promise<void> {
    this.started ??= (async () => {
      for (const k of KINDS) {
        const rv = await this.listKind(k);
        if (rv !== undefined) this.watchKind(k, rv);
      }
    })();
    return this.started;
  }

  /** Lists one kind into the cache; its resourceVersion, or undefined when the server does not serve it. */
  private async listKind(k: KindInfo): Promise<string | undefined> {
    const seen = new Set<string>();
    let cont = '';
    let rv = '';
    do {
      const url = `${this.base(k)}?limit=${PAGE}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`;
      let res: Response;
      try {
        res = await fetch(url, { headers: this.headers(), dispatcher: this.agent });
      } catch (err) {
        throw new StoreError('Unavailable', `${url}: ${(err as Error).message}`);
      }
      if (res.status === 404) {
        await res.body?.cancel();
        if (!this.missing.includes(k.kind)) this.missing.push(k.kind);
        return undefined;
      }
      if (!res.ok) throw new StoreError('Unavailable', `${url}: HTTP ${res.status} ${(await res.text()).slice(0, 200)}`);
      const list = (await res.json()) as { metadata?: { resourceVersion?: string; continue?: string }; items?: Resource[] };
      for (const item of list.items ?? []) {
        const r = { ...item, apiVersion: apiVersionOf(k.group, k.versions[0]), kind: k.kind };
        const key = this.keyOf(k, r);
        seen.add(key);
        const before = this.cache.get(key);
        this.cache.set(key, r);
        if (!before || before.metadata.resourceVersion !== r.metadata.resourceVersion) this.emit({ type: before ? 'MODIFIED' : 'ADDED', key, object: r, revision: 0, ...(before ? { prev: before } : {}) });
      }
      rv = list.metadata?.resourceVersion ?? rv;
      cont = list.metadata?.continue ?? '';
    } while (cont);
    // After a relist, what is gone was deleted while we were not watching.
    const prefix = keyString({ group: k.group, plural: k.plural, namespace: '', name: '' }).split('/').slice(0, 2).join('/') + '/';
    for (const [key, r] of this.cache) if (key.startsWith(prefix) && !seen.has(key)) {
      this.cache.delete(key);
      this.emit({ type: 'DELETED', key, object: r, revision: 0 });
    }
    return rv;
  }

  private emit(e: WatchEvent): void {
    e.revision = ++this.rev;
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.splice(0, this.history.length - HISTORY);
    this.listeners.emit(e);
  }

  private watchKind(k: KindInfo, fromRv: string): void {
    const run = async (rv: string): Promise<void> => {
      if (this.closed) return;
      const ac = new AbortController();
      this.aborts.add(ac);
      let last = rv;
      let expired = false;
      try {
        const res = await fetch(`${this.base(k)}?watch=true&allowWatchBookmarks=true&resourceVersion=${encodeURIComponent(rv)}`, { headers: this.headers(), signal: ac.signal, dispatcher: this.agent });
        if (res.status === 410) expired = true;
        else if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
        else {
          let buf = '';
          const decoder = new TextDecoder();
          for await (const chunk of res.body) {
            buf += decoder.decode(chunk, { stream: true });
            let nl: number;
            while ((nl = buf.indexOf('\n')) >= 0) {
              const line = buf.slice(0, nl).trim();
              buf = buf.slice(nl + 1);
              if (!line) continue;
              const ev = JSON.parse(line) as { type: string; object: Resource & { code?: number } };
              if (ev.type === 'ERROR') {
                if (ev.object?.code === 410) expired = true;
                break;
              }
              if (ev.object?.metadata?.resourceVersion) last = ev.object.metadata.resourceVersion;
              if (ev.type === 'BOOKMARK') continue;
              const r = { ...ev.object, apiVersion: apiVersionOf(k.group, k.versions[0]), kind: k.kind } as Resource;
              const key = this.keyOf(k, r);
              const before = this.cache.get(key);
              if (ev.type === 'DELETED') this.cache.delete(key);
              else this.cache.set(key, r);
              this.emit({ type: ev.type as WatchEvent['type'], key, object: r, revision: 0, ...(ev.type === 'MODIFIED' && before ? { prev: before } : {}) });
            }
            if (expired) break;
          }
        }
      } catch {
        // A dropped connection: resumed below from the last version seen.
      } finally {
        this.aborts.delete(ac);
      }
      if (this.closed) return;
      await new Promise((r) => setTimeout(r, expired ? 0 : 250).unref());
      if (expired) {
        const relisted = await this.listKind(k).catch(() => undefined);
        return run(relisted ?? last);
      }
      return run(last);
    };
    void run(fromRv);
  }

  async revision(): Promise<number> {
    await this.ensureStarted();
    return this.rev;
  }

  async get(key: string): Promise<Resource | undefined> {
    await this.ensureStarted();
    return this.cache.get(key);
  }

  async list(prefix: string, opts: { after?: string; limit?: number } = {}): Promise<ListPage> {
    await this.ensureStarted();
    const keys = [...this.cache.keys()].filter((k) => k.startsWith(prefix) && (opts.after === undefined || k > opts.after)).sort();
    const limit = opts.limit && opts.limit > 0 ? opts.limit : keys.length;
    const page = keys.slice(0, limit);
    return { items: page.map((k) => this.cache.get(k)!), revision: this.rev, continueAfter: keys.length > limit ? page.at(-1) : undefined };
  }

  private refuse(): never {
    throw new StoreError('Unavailable', 'the Kubernetes API server owns these objects: change them there');
  }

  async create(): Promise<Resource> {
    return this.refuse();
  }

  async update(): Promise<Resource> {
    return this.refuse();
  }

  async delete(): Promise<Resource> {
    return this.refuse();
  }

  async watch(prefix: string, from: number, onEvent: (e: WatchEvent) => void): Promise<Watch> {
    await this.ensureStarted();
    const oldest = this.history[0]?.revision ?? this.rev + 1;
    if (from < oldest - 1 && from < this.rev) throw new StoreError('Expired', `resourceVersion ${from} is older than the events kept`);
    const watch = this.listeners.add(prefix, onEvent);
    for (const e of this.history) if (e.revision > from && e.key.startsWith(prefix)) onEvent(e);
    return watch;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const a of this.aborts) a.abort();
    this.listeners.clear();
    await this.agent.close().catch(() => {});
  }
}
