// Throttling (a Portcullis extension on BackendTrafficPolicy rate-limit
// rules: `throttle: { maxQueue, maxWait }`): a request over the limit waits
// in a bounded queue for the next window instead of being refused at once
// (Kong's request queueing, the "speed bump"). Waiters retry when a window
// opens, in arrival order, so the queue drains at the configured rate; a
// full queue, or a wait that would pass maxWait, is refused with 429.
import { DENIED, type WindowStore } from '../state/windows.ts';

export class Throttle {
  readonly maxQueue: number;
  readonly maxWaitMs: number;
  /** Requests waiting now. */
  queued = 0;

  constructor(maxQueue: number, maxWaitMs: number) {
    this.maxQueue = maxQueue;
    this.maxWaitMs = maxWaitMs;
  }

  /** The remaining budget once admitted, or DENIED when the queue is full or the wait runs out. */
  wait(store: WindowStore, key: string, limit: number, windowMs: number, cost: number): Promise<number> {
    if (this.queued >= this.maxQueue) return Promise.resolve(DENIED);
    this.queued++;
    const deadline = Date.now() + this.maxWaitMs;
    return new Promise<number>((resolve) => {
      const done = (n: number) => {
        this.queued--;
        resolve(n);
      };
      const attempt = () => {
        const now = Date.now();
        // 1 ms past the boundary, so that the retry lands in the new window.
        const untilNext = windowMs - (now % windowMs) + 1;
        if (now + untilNext > deadline) return done(DENIED);
        setTimeout(() => {
          Promise.resolve(store.take(key, limit, windowMs, cost)).then(
            (r) => (r === DENIED ? attempt() : done(r)),
            () => done(DENIED),
          );
        }, untilNext);
      };
      attempt();
    });
  }
}
