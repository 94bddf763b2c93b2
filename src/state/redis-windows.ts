// Global rate limits: fixed-window counters in Redis, shared by every
// Portcullis instance that points at the same Redis (docs/state.md has the
// key layout).
//
// Cost per request: like the workers' leases from the primary (leases.ts),
// an instance reserves a batch of a window's budget at once — one Lua
// INCRBY (atomic: no read-then-write race between instances) — and charges
// requests against it without waiting. A batch is at most 1 % of the limit
// (so tokens reserved and unused when a window ends cost at most 1 % per
// instance, and the instances together never admit more than the limit), at
// most 256; for small limits it is one request, and every request asks Redis.
// Calls of one event-loop turn leave in one pipelined write (ioredis
// auto-pipelining). A request that must wait, waits for one round trip.
//
// Failure: no offline queue and a command timeout, so a Redis that is down
// or slow answers within `timeoutMs` with the failure mode (open: admit,
// closed: STORE_FAILED); ioredis reconnects by itself and counting resumes.
import type { Cluster, Redis } from 'ioredis';
import { STORE_FAILED, type WindowStore } from './windows.ts';
import { LeasedWindows, type LeaseGrant, type LeaseRequest } from './leases.ts';
import { parseRedisUrl, type RedisSettings } from './redis-url.ts';

// KEYS[1] counter; ARGV[1] how many to reserve; ARGV[2] window length in ms (the key expires with its window).
const TAKE_LUA = `
local c = redis.call('INCRBY', KEYS[1], ARGV[1])
if c == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return c`;

type Client = (Redis | Cluster) & { portcullisTake(key: string, cost: number, ttlMs: number): Promise<number> };

export interface RedisStats {
  errors: number;
  failOpen: number;
  failClosed: number;
}

/** Tokens reserved per Redis call for a limit. */
export function redisBatch(limit: number): number {
  return Math.max(1, Math.min(256, Math.floor(limit / 100)));
}

export class RedisWindows implements WindowStore {
  readonly settings: RedisSettings;
  readonly stats: RedisStats = { errors: 0, failOpen: 0, failClosed: 0 };
  readonly #leases: LeasedWindows;
  #client: Client | undefined;
  #loading: Promise<Client>;
  #firstReady: Promise<Client>;
  #everReady = false;
  #onError: (err: Error) => void;
  #closed = false;

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
    this.#leases = new LeasedWindows({
      send: (m) => this.#reserve(m),
      // The reservation calls time out themselves (commandTimeout); this is the backstop.
      timeoutMs: settings.timeoutMs + 50,
      unanswered: (_key, limit) => {
        if (settings.failClosed) {
          this.stats.failClosed++;
          return STORE_FAILED;
        }
        this.stats.failOpen++;
        return limit;
      },
    });
  }

  /** The Redis key of a counter (docs/state.md): prefix, limit identity, window start. */
  redisKey(key: string, windowMs: number, window: number): string {
    return `${this.settings.prefix}${key}:${window * windowMs / 1000}`;
  }

  take(key: string, limit: number, windowMs: number, cost: number): number | Promise<number> {
    return this.#leases.take(key, limit, windowMs, cost);
  }

  add(key: string, limit: number, windowMs: number, cost: number): void {
    if (cost > 0) this.#leases.add(key, limit, windowMs, cost);
  }

  #reserve(m: LeaseRequest): void {
    const client = this.#client;
    if (client !== undefined && client.status === 'ready') return this.#call(client, m);
    // Down after having worked (an outage): the failure mode decides at once, nothing waits.
    if (client !== undefined && this.#everReady) return this.#fail(m, new Error(`redis not connected (${client.status})`));
    // Still starting: wait for the first connection (the lease timeout bounds the wait).
    this.#firstReady.then((c) => this.#call(c, m), (err: Error) => this.#fail(m, err));
  }

  #call(client: Client, m: LeaseRequest): void {
    const want = Math.max(m.need, redisBatch(m.limit));
    client.portcullisTake(this.redisKey(m.key, m.windowMs, m.window), want, m.windowMs + 1000).then(
      (count) => {
        const c = Number(count);
        const before = c - want;
        const granted = Math.max(0, Math.min(want, m.limit - before));
        const g: LeaseGrant = { type: 'portcullis.granted', id: m.id, granted, remaining: Math.max(0, m.limit - c), batch: redisBatch(m.limit) };
        this.#leases.deliver(g);
      },
      (err: Error) => this.#fail(m, err),
    );
  }

  #fail(m: LeaseRequest, err: Error): void {
    this.stats.errors++;
    this.#onError(err);
    this.#leases.deliver({ type: 'portcullis.granted', id: m.id, granted: 0, remaining: 0, batch: 1, failed: true } satisfies LeaseGrant);
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
