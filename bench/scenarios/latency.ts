// Latency at a fixed request rate (half the gateway's peak), the gateway
// against the bare proxy at the same rate: what the gateway adds to a request
// when it is not saturated.
import { loadSpec, type BenchContext } from '../context.ts';
import { runPaced } from '../load/paced-driver.ts';
import type { PacedResult } from '../load/paced.ts';
import { median, rotate } from '../stats.ts';
import { deadReason, type System } from '../system.ts';

export interface LatencyRun {
  rep: number;
  result?: PacedResult;
  failure?: string;
  /** No failed or non-2xx requests and at least 95% of the offered rate served. */
  clean: boolean;
}

export interface LatencyContender {
  name: string;
  runs: LatencyRun[];
  /** Medians over clean runs, in microseconds. */
  p50Us: number | null;
  p99Us: number | null;
}

const MIN_ACHIEVED = 0.95;

export async function measureLatency(ctx: BenchContext, systems: { name: string; system: System }[], rate: number): Promise<LatencyContender[]> {
  const out = new Map<string, LatencyContender>(systems.map((s) => [s.name, { name: s.name, runs: [], p50Us: null, p99Us: null }]));
  for (let rep = 0; rep < ctx.opts.reps; rep++) {
    for (const s of rotate(systems, rep)) {
      const c = out.get(s.name)!;
      const dead = deadReason(s.system.child);
      if (dead) {
        c.runs.push({ rep, failure: dead, clean: false });
        continue;
      }
      const spec = loadSpec(ctx, s.system);
      try {
        const result = await runPaced({ url: spec.url, headers: spec.headers, rate, durationSec: spec.durationSec, warmupSec: ctx.opts.warmupSec, connections: spec.connections });
        const clean = result.failed === 0 && result.non2xx === 0 && result.achievedRate >= MIN_ACHIEVED * rate;
        c.runs.push({ rep, result, clean });
        ctx.log(`  run ${rep + 1}/${ctx.opts.reps} ${s.name} @ ${rate} req/s: p50 ${(result.latencyUs.p50 / 1000).toFixed(2)} ms, p99 ${(result.latencyUs.p99 / 1000).toFixed(2)} ms${clean ? '' : ` — NOT CLEAN (served ${Math.round(result.achievedRate)} req/s, ${result.failed} failed, ${result.non2xx} non-2xx)`}`);
      } catch (err) {
        c.runs.push({ rep, failure: (err as Error).message, clean: false });
      }
    }
  }
  for (const c of out.values()) {
    const clean = c.runs.filter((r) => r.clean).map((r) => r.result!);
    c.p50Us = median(clean.map((r) => r.latencyUs.p50));
    c.p99Us = median(clean.map((r) => r.latencyUs.p99));
  }
  return [...out.values()];
}
