// An in-memory copy of every object in a store, kept current by one watch:
// what each build reads (builds never wait on the store), and what tells the
// config controller that something changed. Resumes its watch after an error
// (etcd restarting, a lost connection), relisting when its revision expired.
import type { LoadedResource, Resource } from '../resources/types.ts';
import { StoreError, type Store, type Watch } from './types.ts';

export class StoreMirror {
  private store: Store;
  private objects = new Map<string, Resource>();
  private revision = 0;
  private watch: Watch | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;
  private onChange: () => void;
  private onError: (err: Error) => void;

  constructor(store: Store, onChange: () => void, onError: (err: Error) => void) {
    this.store = store;
    this.onChange = onChange;
    this.onError = onError;
  }

  /** The first full read; resolves once the mirror holds every object. */
  async start(): Promise<void> {
    await this.relist();
    await this.subscribe();
  }

  private async relist(): Promise<void> {
    const page = await this.store.list('');
    this.objects = new Map(page.items.map((r) => [identity(r), r]));
    this.revision = page.revision;
  }

  private async subscribe(): Promise<void> {
    this.watch = await this.store.watch('', this.revision, (e) => {
      const id = identity(e.object);
      if (e.type === 'DELETED') this.objects.delete(id);
      else this.objects.set(id, e.object);
      this.revision = e.revision;
      this.onChange();
    }, (err) => this.recover(err));
  }

  private recover(err: Error): void {
    if (this.closed) return;
    this.watch?.close();
    this.watch = undefined;
    this.onError(err);
    this.retry = setTimeout(() => {
      const again = async () => {
        if (err instanceof StoreError && err.code === 'Expired') {
          await this.relist();
          this.onChange();
        }
        await this.subscribe();
      };
      again().catch((e: Error) => this.recover(e));
    }, 500);
    this.retry.unref();
  }

  size(): number {
    return this.objects.size;
  }

  resources(): LoadedResource[] {
    return [...this.objects.values()].map((resource, seq) => ({ resource, seq, immutable: true }));
  }

  close(): void {
    this.closed = true;
    if (this.retry) clearTimeout(this.retry);
    this.watch?.close();
  }
}

/** group/kind/namespace/name: one entry per object, whichever version wrote it. */
function identity(r: Resource): string {
  const slash = r.apiVersion.indexOf('/');
  return `${slash < 0 ? '' : r.apiVersion.slice(0, slash)}/${r.kind}/${r.metadata.namespace ?? ''}/${r.metadata.name}`;
}
