// State that outlives a snapshot (docs/state.md): the process-wide stores
// that compiled filters use, keyed by policy identity and never by snapshot,
// so a reload keeps every rate-limit count, lease and breaker state. Like the
// upstream pools (upstream/pools.ts) and the JWT provider leases
// (auth/jwt/registry.ts), they are created once per process and outlive
// every snapshot compiled against them.
import cluster from 'node:cluster';
import { LeaseCoordinator, LeasedWindows } from './leases.ts';
import { LocalWindows, type WindowStore } from './windows.ts';
import { redactRedisUrl, type RedisSettings } from './redis-url.ts';
import { RedisWindows } from './redis-windows.ts';

let local: WindowStore = new LocalWindows();
let redisSettings: RedisSettings | undefined;
let global: RedisWindows | undefined;
let logError: (msg: string, err: Error) => void = () => {};

/** The store local rate limits count in: this process's table, or leases from the primary. */
export function localCounters(): WindowStore {
  return local;
}

/** Worker processes: count local limits in leases from the primary (one budget per instance). */
export function useLeasedCounters(workers: number): LeasedWindows {
  const leased = new LeasedWindows({ send: (m) => void process.send!(m), workers });
  process.on('message', (m) => leased.deliver(m));
  local = leased;
  return leased;
}

/** The primary: serve leases to every worker it forks. */
export function startLeaseCoordinator(): LeaseCoordinator {
  return new LeaseCoordinator(() => Object.keys(cluster.workers ?? {}).length || 1);
}

/** Where global rate limits count (Portcullis's own configuration: --redis). */
export function configureRedis(settings: RedisSettings | undefined, onError?: (msg: string, err: Error) => void): void {
  if (global && JSON.stringify(settings) !== JSON.stringify(redisSettings)) {
    void global.close();
    global = undefined;
  }
  redisSettings = settings;
  if (onError) logError = onError;
}

export function redisConfiguration(): RedisSettings | undefined {
  return redisSettings;
}

/**
 * The shared store of global rate limits, connected on first use (a process
 * without a global limit never loads ioredis); undefined when --redis was not
 * given. Errors are logged at most once per outage.
 */
export function globalCounters(): RedisWindows | undefined {
  if (!redisSettings) return undefined;
  if (!global) {
    let lastLogged = 0;
    global = new RedisWindows(redisSettings, (err) => {
      const now = Date.now();
      if (now - lastLogged < 10_000) return;
      lastLogged = now;
      logError(`redis ${redactRedisUrl(redisSettings!.url)}: ${err.message}; global rate limits ${redisSettings!.failClosed ? 'fail closed' : 'fail open'} until it answers`, err);
    });
  }
  return global;
}

/** Process shutdown. */
export async function closeGlobalCounters(): Promise<void> {
  const g = global;
  global = undefined;
  await g?.close();
}

/** Tests: start again from an empty local table. */
export function resetLocalCounters(): void {
  local = new LocalWindows();
}

/** Counters for /metrics (admin/metrics.ts). */
export function stateStats(): { failOpen: number; failClosed: number; leaseTimeouts: number } {
  return {
    failOpen: global?.stats.failOpen ?? 0,
    failClosed: global?.stats.failClosed ?? 0,
    leaseTimeouts: local instanceof LeasedWindows ? local.timeouts : 0,
  };
}
