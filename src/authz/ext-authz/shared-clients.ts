// Connections to authorization services outlive snapshots: a new snapshot that
// names the same target reuses the pool/channel of the old one instead of
// reconnecting. Each compiled filter acquires its clients and releases them in
// close(); the last release closes the connection. The data plane compiles the
// new snapshot before retiring the old one, so a target present in both is
// never torn down in between.

interface Entry<T> {
  value: T;
  refs: number;
}

export class SharedClients<T> {
  readonly #entries = new Map<string, Entry<T>>();
  readonly #create: (key: string) => T;
  readonly #destroy: (value: T) => void;

  constructor(create: (key: string) => T, destroy: (value: T) => void) {
    this.#create = create;
    this.#destroy = destroy;
  }

  acquire(key: string): T {
    let e = this.#entries.get(key);
    if (!e) {
      e = { value: this.#create(key), refs: 0 };
      this.#entries.set(key, e);
    }
    e.refs++;
    return e.value;
  }

  release(key: string): void {
    const e = this.#entries.get(key);
    if (!e) return;
    if (--e.refs > 0) return;
    this.#entries.delete(key);
    this.#destroy(e.value);
  }

  /** Targets currently held open (for tests and /debug). */
  keys(): string[] {
    return [...this.#entries.keys()];
  }
}

/** One compiled filter's clients of its endpoints, taken in turn; close() releases them once. */
export class ClientRing<T> {
  readonly #shared: SharedClients<T>;
  readonly #keys: string[];
  readonly #clients: T[];
  #next = 0;
  #closed = false;

  constructor(shared: SharedClients<T>, keys: string[]) {
    this.#shared = shared;
    this.#keys = keys;
    this.#clients = keys.map((k) => shared.acquire(k));
  }

  next(): T {
    const client = this.#clients[this.#next++ % this.#clients.length];
    if (this.#next > 1e9) this.#next = 0;
    return client;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    for (const k of this.#keys) this.#shared.release(k);
  }
}

/** "host:port" with IPv6 literals bracketed, as URLs and gRPC targets want them. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]:${port}` : `${host}:${port}`;
}
