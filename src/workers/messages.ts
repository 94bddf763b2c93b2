import type { Snapshot } from '../ir/types.ts';
import type { RedisSettings } from '../state/redis-url.ts';

/** Primary → worker. A snapshot is served only after every worker prepared it. */
export type ToWorker =
  | { type: 'prepare'; snapshot: Snapshot }
  | { type: 'commit'; version: string }
  | { type: 'abort'; version: string }
  | { type: 'drain'; deadlineMs: number }
  | { type: 'metrics'; requestId: number };

/** Worker → primary. */
export type ToPrimary =
  | { type: 'prepared'; version: string }
  | { type: 'failed'; version: string; error: string }
  | { type: 'committed'; version: string }
  | { type: 'listening'; address: string; protocol: string }
  /** The worker's registry (prom-client JSON): the answer to a scrape (requestId), or a periodic push (requestId 0). */
  | { type: 'metrics'; requestId: number; metrics: unknown[] };

export interface WorkerSettings {
  bind: string;
  logLevel: string;
  accessLog: 'stdout' | 'off';
  redis?: RedisSettings;
  /** How many workers the instance runs (their fair share of a local limit when the primary stalls). */
  workers?: number;
}

export const WORKER_ENV = 'PORTCULLIS_WORKER_SETTINGS';

/** How often a worker sends its counters to the primary between scrapes (what a SIGKILL can lose at most). */
export const PUSH_INTERVAL_MS = 1000;
