// A store's watchers: each is handed the events under its key prefix, in the
// order the store emits them.
import type { Watch, WatchEvent } from './types.ts';

interface Listener {
  prefix: string;
  onEvent: (e: WatchEvent) => void;
}

export class PrefixListeners {
  readonly #all = new Set<Listener>();

  /** A new watcher; closing its Watch removes it. */
  add(prefix: string, onEvent: (e: WatchEvent) => void): Watch {
    const listener: Listener = { prefix, onEvent };
    this.#all.add(listener);
    return { close: () => void this.#all.delete(listener) };
  }

  /** `e` to every watcher whose prefix its key starts with. */
  emit(e: WatchEvent): void {
    for (const l of this.#all) if (e.key.startsWith(l.prefix)) l.onEvent(e);
  }

  clear(): void {
    this.#all.clear();
  }
}
