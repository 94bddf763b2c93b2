// Bounded LRU of verification results, keyed by the token string.
// Lookups are synchronous and never return an entry past its deadline: the
// verifier sets the deadline of a verified token to its exp (plus skew).

interface Entry<V> {
  value: V;
  /** Epoch ms after which the entry must not be served. */
  untilMs: number;
}

export class TokenCache<V> {
  readonly #max: number;
  readonly #map = new Map<string, Entry<V>>();

  constructor(maxEntries: number) {
    this.#max = Math.max(0, Math.floor(maxEntries));
  }

  get size(): number {
    return this.#map.size;
  }

  get(token: string, nowMs: number): V | undefined {
    const e = this.#map.get(token);
    if (e === undefined) return undefined;
    if (nowMs > e.untilMs) {
      this.#map.delete(token);
      return undefined;
    }
    // Refresh recency: Map keeps insertion order, the first key is the eldest.
    this.#map.delete(token);
    this.#map.set(token, e);
    return e.value;
  }

  set(token: string, value: V, untilMs: number): void {
    if (this.#max === 0) return;
    this.#map.delete(token);
    if (this.#map.size >= this.#max) {
      const eldest = this.#map.keys().next();
      if (!eldest.done) this.#map.delete(eldest.value);
    }
    this.#map.set(token, { value, untilMs });
  }

  delete(token: string): void {
    this.#map.delete(token);
  }

  clear(): void {
    this.#map.clear();
  }
}
