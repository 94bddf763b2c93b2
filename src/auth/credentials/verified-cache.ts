// Bounded LRU of credential checks, keyed by a SHA-256 digest of what the
// client sent (never the credential itself), each entry with a deadline.
// Basic auth and hashed API keys use it so that one client's steady traffic
// pays the password hash once, not once per request.

interface Entry<V> {
  value: V;
  untilMs: number;
}

export class VerifiedCache<V> {
  readonly #max: number;
  readonly #ttlMs: number;
  readonly #map = new Map<string, Entry<V>>();

  constructor(maxEntries: number, ttlMs: number) {
    this.#max = Math.max(0, Math.floor(maxEntries));
    this.#ttlMs = ttlMs;
  }

  get size(): number {
    return this.#map.size;
  }

  get(digest: string, nowMs: number): V | undefined {
    const e = this.#map.get(digest);
    if (e === undefined) return undefined;
    this.#map.delete(digest);
    if (nowMs > e.untilMs) return undefined;
    // Most recently used last: a steady client's entry is not the one evicted.
    this.#map.set(digest, e);
    return e.value;
  }

  set(digest: string, value: V, nowMs: number, ttlMs = this.#ttlMs): void {
    if (this.#max === 0) return;
    this.#map.delete(digest);
    if (this.#map.size >= this.#max) {
      const eldest = this.#map.keys().next();
      if (!eldest.done) this.#map.delete(eldest.value);
    }
    this.#map.set(digest, { value, untilMs: nowMs + ttlMs });
  }

  clear(): void {
    this.#map.clear();
  }
}
