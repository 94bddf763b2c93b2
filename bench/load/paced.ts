// A fixed-rate (open-loop) load generator for the latency scenario.
//
// Why not autocannon's overallRate: autocannon gives each connection a quota
// per second and sends it back-to-back at the start of each second, then idles
// (lib/httpClient.js, reqsMadeThisSecond) — at "half the peak rate" it runs at
// full speed half of each second, so its latency is the latency of a
// saturated server. wrk2 is not installed. This sends requests evenly spaced in
// time (in 1 ms ticks: Node timers are no finer) over a pool of keep-alive
// connections, and measures each from the moment it is handed to the pool, so
// waiting for a free connection counts.
//
//   node bench/load/paced.ts '<PacedSpec JSON>'  → one JSON line (PacedResult)
import { Pool, type Dispatcher } from 'undici';
import { exitWithParent } from '../lifeline.ts';

export interface PacedSpec {
  url: string;
  headers: Record<string, string>;
  /** Requests per second to offer. */
  rate: number;
  durationSec: number;
  /** Paced like the timed part, not recorded: JIT, connection set-up. */
  warmupSec: number;
  /** Most connections the pool may open. */
  connections: number;
}

export interface PacedResult {
  offeredRate: number;
  achievedRate: number;
  sent: number;
  completed: number;
  /** Transport failures and requests still unanswered after the drain timeout. */
  failed: number;
  non2xx: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number };
}

const DRAIN_TIMEOUT_MS = 5000;

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1);
  return Math.round(sorted[Math.max(0, i)]);
}

async function run(spec: PacedSpec): Promise<PacedResult> {
  const url = new URL(spec.url);
  const pool = new Pool(url.origin, { connections: spec.connections, keepAliveTimeout: 60_000 });
  const path = url.pathname + url.search;
  const total = Math.round(spec.rate * spec.durationSec);
  const latencies = new Float64Array(total);
  let sent = 0;
  let completed = 0;
  let failed = 0;
  let non2xx = 0;
  let recorded = 0;
  let onIdle: (() => void) | undefined;

  const opts: Dispatcher.DispatchOptions = { path, method: 'GET', headers: spec.headers };
  // One handler object per request (undici keeps per-request state in it);
  // only the start time and the status differ.
  class Exchange implements Dispatcher.DispatchHandler {
    start = performance.now();
    status = 0;
    recorded: boolean;
    constructor(recorded: boolean) {
      this.recorded = recorded;
    }
    onRequestStart(): void {}
    onResponseStart(_c: Dispatcher.DispatchController, statusCode: number): void {
      this.status = statusCode;
    }
    onResponseData(): void {}
    onResponseEnd(): void {
      if (!this.recorded) return;
      latencies[recorded++] = (performance.now() - this.start) * 1000;
      if (this.status < 200 || this.status > 299) non2xx++;
      settle();
    }
    onResponseError(): void {
      if (!this.recorded) return;
      failed++;
      settle();
    }
  }
  const settle = (): void => {
    completed++;
    if (onIdle && completed === sent) onIdle();
  };

  let recording = false;
  const pace = (count: number): Promise<void> => {
    const startedAt = performance.now();
    let dispatched = 0;
    return new Promise<void>((resolve) => {
      const tick = (): void => {
        const due = Math.min(count, Math.floor(((performance.now() - startedAt) / 1000) * spec.rate));
        while (dispatched < due) {
          dispatched++;
          if (recording) sent++;
          pool.dispatch(opts, new Exchange(recording));
        }
        if (dispatched < count) setTimeout(tick, 1);
        else resolve();
      };
      tick();
    });
  };
  await pace(Math.round(spec.rate * spec.warmupSec));
  recording = true;
  const startedAt = performance.now();
  await pace(total);
  const sendingSec = (performance.now() - startedAt) / 1000;
  if (completed < sent) {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, DRAIN_TIMEOUT_MS);
      onIdle = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  const unanswered = sent - completed;
  const sorted = latencies.subarray(0, recorded).sort();
  await pool.destroy();
  return {
    offeredRate: spec.rate,
    achievedRate: (completed - failed) / Math.max(sendingSec, spec.durationSec),
    sent,
    completed: completed - failed,
    failed: failed + unanswered,
    non2xx,
    latencyUs: {
      p50: percentile(sorted, 50),
      p90: percentile(sorted, 90),
      p99: percentile(sorted, 99),
      p999: percentile(sorted, 99.9),
      max: percentile(sorted, 100),
    },
  };
}

if (import.meta.main) {
  exitWithParent();
  const result = await run(JSON.parse(process.argv[2]) as PacedSpec);
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}
