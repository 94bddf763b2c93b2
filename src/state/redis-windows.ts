// Global rate limits: fixed-window counters in Redis, shared by every
// Portcullis instance that points at the same Redis (docs/state.md has the
// key layout).
//
// Cost per request: requests that arrive in the same turn of the event loop
// are batched — one INCRBY per key for the sum of their costs, in one Lua
// script (atomic: no read-then-write race between instances), and every
// script of a turn goes out in one pipelined write (ioredis auto-pipelining).
// So a request waits for at most one Redis round trip, and a busy key costs
// one command per turn, not one per request.
//
// Failure: no offline queue and a command timeout, so a Redis that is down
// or slow answers within `timeoutMs` with the failure mode (open: admit,
// closed: STORE_FAILED); ioredis reconnects by itself and counting resumes.
import type { Cluster, Redis } from 'ioredis';
import { DENIED, STORE_FAILED, type WindowStore } from './windows.ts';
import { parseRedisUrl, type RedisSettings } from './redis-url.ts';

// KEYS[1] counter; ARGV[1] cost; ARGV[2] window length in ms (the key expires with its window).
const TAKE_LUA = `
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
if c == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return c`;

interface Waiter {
  cost: number;
  resolve: (remaining: number) => void;
}

interface Batch {
  key: string;
  limit: number;
  windowMs: number;
  total: number;
  /** Waiters of a decision; absent for response costs (charged, nobody waits). */
  waiters: Waiter[];
  /** Sent to Redis (once). */
  done?: boolean;
  /** Decided by the failure mode (once; a late answer is ignored). */
  failed?: boolean;
}

type Client = (Redis | Cluster) & { portcullisTake(key: string, cost: number, ttlMs: number): Promise<number> };

export interface RedisStats {
  errors: number;
  failOpen: number;
  failClosed: number;
}

export class RedisWindows implements WindowStore {
  readonly settings: RedisSettings;
  readonly stats: RedisStats = { errors: 0, failOpen: 0, failClosed: 0 };
  #client: Client | undefined;
  #loading: Promise<Client>;
  #batches = new Map<string, Batch>();
  #scheduled = false;
  #onError: (err: Error) => void;
  #closed = false;
  #everReady = false;
  #firstReady: Promise<Client>;

  constructor(settings: RedisSettings, onError: (err: Error) => void) {
    this.settings = settings;
    this.#onError = onError;
    this.#loading = connect(settings).then((c) => {
      this.#client = c;
      c.on('error', (err: Error) => this.#onError(err));
      if (this.#closed) c.disconnect();
      return c;
    });
    this.#loading.catch((err: Error) => this.#onError(err));
    this.#firstReady = this.#loading.then((c) => new Promise<Client>((resolve) => {
      if (c.status === 'ready') resolve(c);
      else c.once('ready', () => resolve(c));
    }));
    this.#firstReady.then(() => { this.#everReady = true; }, () => {});
  }

  /** The Redis key of a counter (docs/state.md): prefix, limit identity, window start. */
  redisKey(key: string, windowMs: number, window: number): string {
    return `${this.settings.prefix}${key}:${window * windowMs / 1000}`;
  }

  take(key: string, limit: number, windowMs: number, cost: number): Promise<number> {
    return new Promise((resolve) => this.#enqueue(key, limit, windowMs, cost, { cost, resolve }));
  }

  add(key: string, limit: number, windowMs: number, cost: number): void {
    if (cost > 0) this.#enqueue(key, limit, windowMs, cost, undefined);
  }

  #enqueue(key: string, limit: number, windowMs: number, cost: number, waiter: Waiter | undefined): void {
    const window = Math.floor(Date.now() / windowMs);
    const rk = this.redisKey(key, windowMs, window);
    let b = this.#batches.get(rk);
    if (b === undefined) this.#batches.set(rk, (b = { key: rk, limit, windowMs, total: 0, waiters: [] }));
    b.total += cost;
    if (waiter) b.waiters.push(waiter);
    if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(this.#flush);
    }
  }

  #flush = (): void => {
    this.#scheduled = false;
    const batches = this.#batches;
    this.#batches = new Map();
    const client = this.#client;
    if (client !== undefined && client.status === 'ready') {
      for (const b of batches.values()) this.#send(client, b);
      return;
    }
    // Down after having worked (an outage): the failure mode decides at once, nothing waits.
    if (client !== undefined && this.#everReady) {
      const err = new Error(`redis not connected (${client.status})`);
      for (const b of batches.values()) this.#failed(b, err);
      return;
    }
    // Still starting: wait for the first connection within the timeout.
    const timer = setTimeout(() => {
      for (const b of batches.values()) this.#failed(b, new Error('redis not connected'));
    }, this.settings.timeoutMs);
    this.#firstReady.then((c) => {
      clearTimeout(timer);
      for (const b of batches.values()) this.#send(c, b);
    }, () => {});
  };

  #send(client: Client, b: Batch): void {
    if (b.done) return;
    b.done = true;
    client.portcullisTake(b.key, b.total, b.windowMs + 1000).then(
      (count) => {
        if (b.failed) return;
        // Charge in arrival order: each waiter is admitted while the running count stays within the limit.
        let running = Number(count) - b.total;
        for (const w of b.waiters) {
          running += w.cost;
          w.resolve(running <= b.limit ? b.limit - running : DENIED);
        }
      },
      (err: Error) => this.#failed(b, err),
    );
  }

  #failed(b: Batch, err: Error): void {
    if (b.failed) return;
    b.failed = true;
    this.stats.errors++;
    this.#onError(err);
    for (const w of b.waiters) {
      if (this.settings.failClosed) {
        this.stats.failClosed++;
        w.resolve(STORE_FAILED);
      } else {
        this.stats.failOpen++;
        w.resolve(b.limit);
      }
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    const c = this.#client;
    if (c) c.disconnect();
  }
}

async function connect(settings: RedisSettings): Promise<Client> {
  // Loaded only when a global rate limit is configured: workers without one never pay for it.
  const { Redis, Cluster } = await import('ioredis');
  const target = parseRedisUrl(settings.url);
  const common = {
    enableOfflineQueue: false,
    enableAutoPipelining: true,
    commandTimeout: settings.timeoutMs,
    maxRetriesPerRequest: 0,
    connectTimeout: Math.max(1000, settings.timeoutMs * 4),
    retryStrategy: (times: number) => Math.min(50 * 2 ** Math.min(times, 6), 2000),
  };
  let c: Redis | Cluster;
  if (target.mode === 'single') c = new Redis(target.url, common);
  else if (target.mode === 'sentinel') c = new Redis({ ...common, sentinels: target.sentinels, name: target.name, password: target.password, sentinelPassword: target.password, tls: target.tls ? {} : undefined });
  else c = new Cluster(target.nodes, { enableOfflineQueue: false, enableAutoPipelining: true, clusterRetryStrategy: common.retryStrategy, redisOptions: { ...common, password: target.password, tls: target.tls ? {} : undefined } });
  c.defineCommand('portcullisTake', { numberOfKeys: 1, lua: TAKE_LUA });
  return c as Client;
}
