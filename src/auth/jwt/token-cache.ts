// Bounded, approximately-LRU cache of verification results, keyed by the token
// string. Lookups are synchronous and never return an entry past its deadline:
// the verifier sets the deadline of a verified token to its exp (plus skew).
//
// Recency: a Map keeps insertion order (the first key is the eldest, evicted
// when full), and a hit moves its entry to the end by delete + set. That move
// is most of a hit's cost and, repeated, makes the Map rehash; so a hit moves
// its entry only when it has drifted into the older part of the order: more
// than a quarter of the capacity of insertions have happened since it was
// (re)inserted. An entry that recent has at most a quarter of the capacity
// after it, so at least three quarters more insertions must come before it
// could be the eldest — any hit in between moves it again. A token in steady
// use is never evicted; one used once ages out as before.

interface Entry<V> {
  value: V;
  /** Epoch ms after which the entry must not be served. */
  untilMs: number;
  /** The cache's insertion count when this entry was last put at the end. */
  stamp: number;
}

export class TokenCache<V> {
  readonly #max: number;
  /** Insertions since last moved: below this a hit leaves the entry where it is. */
  readonly #recent: number;
  readonly #map = new Map<string, Entry<V>>();
  /** Insertions (new entries and moves to the end) so far. */
  #clock = 0;

  constructor(maxEntries: number) {
    this.#max = Math.max(0, Math.floor(maxEntries));
    this.#recent = Math.floor(this.#max / 4);
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
    if (this.#clock - e.stamp >= this.#recent) {
      this.#map.delete(token);
      e.stamp = ++this.#clock;
      this.#map.set(token, e);
    }
    return e.value;
  }

  set(token: string, value: V, untilMs: number): void {
    if (this.#max === 0) return;
    this.#map.delete(token);
    if (this.#map.size >= this.#max) {
      const eldest = this.#map.keys().next();
      if (!eldest.done) this.#map.delete(eldest.value);
    }
    this.#map.set(token, { value, untilMs, stamp: ++this.#clock });
  }

  delete(token: string): void {
    this.#map.delete(token);
  }

  clear(): void {
    this.#map.clear();
  }
}
