// Reference-counted sharing of live objects (JWKS sources, providers) between
// compiled filters: every route of a snapshot, and the next snapshot after a
// reload, get the same object for the same configuration, so a reload neither
// refetches every JWKS nor drops every verified token. An object whose last
// user let go lingers briefly, so that closing the old snapshot before
// compiling the new one does not throw its state away either.

export interface Lease<T> {
  readonly value: T;
  /** Idempotent. */
  release(): void;
}

interface Slot<T> {
  value: T;
  refs: number;
  timer: NodeJS.Timeout | undefined;
}

export class SharedRegistry<T> {
  readonly #slots = new Map<string, Slot<T>>();
  readonly #dispose: (v: T) => void;
  /** How long an unused object is kept; 0 disposes at once. */
  lingerMs: number;

  constructor(dispose: (v: T) => void, lingerMs: number) {
    this.#dispose = dispose;
    this.lingerMs = lingerMs;
  }

  get size(): number {
    return this.#slots.size;
  }

  has(key: string): boolean {
    return this.#slots.has(key);
  }

  acquire(key: string, create: () => T): Lease<T> {
    let slot = this.#slots.get(key);
    if (slot === undefined) {
      slot = { value: create(), refs: 0, timer: undefined };
      this.#slots.set(key, slot);
    }
    if (slot.timer !== undefined) {
      clearTimeout(slot.timer);
      slot.timer = undefined;
    }
    slot.refs++;
    const s = slot;
    let released = false;
    return {
      value: s.value,
      release: () => {
        if (released) return;
        released = true;
        s.refs--;
        if (s.refs > 0) return;
        if (this.lingerMs <= 0) this.#drop(key, s);
        else {
          s.timer = setTimeout(() => this.#drop(key, s), this.lingerMs);
          s.timer.unref();
        }
      },
    };
  }

  /** Dispose everything now (process shutdown, tests). */
  clear(): void {
    for (const [key, s] of this.#slots) {
      s.refs = 0;
      this.#drop(key, s);
    }
  }

  #drop(key: string, s: Slot<T>): void {
    if (s.refs > 0 || this.#slots.get(key) !== s) return;
    if (s.timer !== undefined) clearTimeout(s.timer);
    this.#slots.delete(key);
    this.#dispose(s.value);
  }
}
