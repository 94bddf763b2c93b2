// Closed-loop throughput of several systems under the same client settings:
// each is checked for a correct answer, warmed up, then timed in turn,
// repetition after repetition (in a rotating order), and the median of its
// error-free runs is its figure.
import { checkOnce, responseExpectation, verificationProblem, type CheckResult } from '../check.ts';
import { cpuSecondsBetween, cpuSnapshot } from '../cpu.ts';
import { loadSpec, type BenchContext } from '../context.ts';
import type { LoadResult } from '../load/types.ts';
import { RssSampler, rssKiB } from '../memory.ts';
import { median, rotate } from '../stats.ts';
import { deadReason, type System } from '../system.ts';
import { sleep } from '../net.ts';

export interface Contender {
  /** Unique within the scenario: "portcullis", "bare proxy", "portcullis, 1000 routes". */
  name: string;
  system: System;
  /** Record idle and loaded RSS of its serving processes. */
  memory?: boolean;
  /** Also record the RSS of this (primary) process, if it is not one of the serving ones. */
  primaryPid?: number;
}

export interface RunRecord {
  rep: number;
  rps?: number;
  requests?: number;
  errors?: LoadResult['errors'];
  errorCount?: number;
  latencyUs?: LoadResult['latencyUs'];
  /**
   * CPU microseconds (user + system, the system's whole process tree) per
   * answer with the expected status, over this run; absent without /proc.
   */
  cpuUsPerRequest?: number;
  /** The run could not happen at all (server died, tool failed). */
  failure?: string;
}

export interface MemoryFigures {
  /** KiB per serving process (worker), by pid. */
  idleKiB: Record<string, number>;
  loadedPeakKiB: Record<string, number>;
  primaryIdleKiB?: number;
}

export interface ContenderResult {
  name: string;
  check: CheckResult;
  runs: RunRecord[];
  /** Median requests/s of the runs without errors; null when there are none. */
  medianRps: number | null;
  /** Median CPU µs per request of the same clean runs; null without /proc. */
  medianCpuUsPerRequest: number | null;
  cleanRuns: number;
  memory?: MemoryFigures;
}

function kibRecord(map: Map<number, number>): Record<string, number> {
  return Object.fromEntries([...map].map(([pid, kib]) => [String(pid), kib]));
}

export async function measureThroughput(ctx: BenchContext, contenders: Contender[]): Promise<Map<string, ContenderResult>> {
  const results = new Map<string, ContenderResult>();
  const ready: Contender[] = [];
  for (const c of contenders) {
    const check = await checkOnce(c.system.baseUrl, c.system.probe);
    results.set(c.name, { name: c.name, check, runs: [], medianRps: null, medianCpuUsPerRequest: null, cleanRuns: 0 });
    if (check.ok) ready.push(c);
    else ctx.log(`  ✗ ${c.name}: wrong answer, not timed — ${check.detail}`);
  }
  const samplers = new Map<string, RssSampler>();
  for (const c of ready) {
    if (c.memory) {
      // Let startup garbage settle a moment before calling it idle.
      await sleep(500);
      const pids = c.system.servingPids();
      const idle = new Map<number, number>();
      for (const pid of pids) {
        const kib = rssKiB(pid);
        if (kib !== undefined) idle.set(pid, kib);
      }
      const r = results.get(c.name)!;
      r.memory = { idleKiB: kibRecord(idle), loadedPeakKiB: {} };
      if (c.primaryPid !== undefined && !pids.includes(c.primaryPid)) r.memory.primaryIdleKiB = rssKiB(c.primaryPid);
      samplers.set(c.name, new RssSampler(pids));
    }
    // The warm-up doubles as the check under load: every response it gets is verified.
    ctx.log(`  warming up ${c.name} (every response checked)…`);
    const spec = { ...loadSpec(ctx, c.system, ctx.opts.warmupSec), verify: responseExpectation(c.system.probe) };
    const problem = await ctx.load.run(spec).then(verificationProblem, (err: Error) => `load generator failed: ${err.message.split('\n')[0]}`);
    if (problem) {
      const r = results.get(c.name)!;
      r.check = { ok: false, detail: `under load: ${problem}` };
      ctx.log(`  ✗ ${c.name}: wrong answers under load, not timed — ${problem}`);
    }
  }
  const timed = ready.filter((c) => results.get(c.name)!.check.ok);
  for (let rep = 0; rep < ctx.opts.reps; rep++) {
    for (const c of rotate(timed, rep)) {
      const r = results.get(c.name)!;
      const dead = deadReason(c.system.child);
      if (dead) {
        r.runs.push({ rep, failure: dead });
        continue;
      }
      const sampler = samplers.get(c.name)?.start();
      try {
        const cpuBefore = cpuSnapshot(c.system.child.pid);
        const res = await ctx.load.run(loadSpec(ctx, c.system));
        const cpuAfter = cpuSnapshot(c.system.child.pid);
        // Answers with the expected status: wrk counts a status >= 400 as an error, autocannon any non-2xx.
        const answered = res.requests - res.errors.status;
        const cpuUsPerRequest = cpuBefore && cpuAfter && answered > 0 ? (cpuSecondsBetween(cpuBefore, cpuAfter) * 1e6) / answered : undefined;
        r.runs.push({ rep, rps: res.rps, requests: res.requests, errors: res.errors, errorCount: res.errorCount, latencyUs: res.latencyUs, cpuUsPerRequest });
        const cpu = cpuUsPerRequest === undefined ? '' : `, ${cpuUsPerRequest.toFixed(1)} µs CPU/request`;
        ctx.log(`  run ${rep + 1}/${ctx.opts.reps} ${c.name}: ${Math.round(res.rps)} req/s${cpu}${res.errorCount ? `, ${res.errorCount} ERRORS (not counted)` : ''}`);
      } catch (err) {
        r.runs.push({ rep, failure: (err as Error).message });
        ctx.log(`  run ${rep + 1}/${ctx.opts.reps} ${c.name}: FAILED — ${(err as Error).message.split('\n')[0]}`);
      } finally {
        sampler?.stop();
      }
    }
  }
  for (const r of results.values()) {
    const cleanRuns = r.runs.filter((x) => x.rps !== undefined && x.errorCount === 0);
    r.cleanRuns = cleanRuns.length;
    r.medianRps = median(cleanRuns.map((x) => x.rps!));
    r.medianCpuUsPerRequest = median(cleanRuns.flatMap((x) => (x.cpuUsPerRequest === undefined ? [] : [x.cpuUsPerRequest])));
    const sampler = samplers.get(r.name);
    if (sampler && r.memory) r.memory.loadedPeakKiB = kibRecord(sampler.peaks);
  }
  return results;
}
