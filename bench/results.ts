// The shape of bench/results/latest.json (and what the table is printed from).
import type { ContenderResult } from './scenarios/throughput.ts';
import type { LatencyContender } from './scenarios/latency.ts';
import type { ReloadMeasurement } from './scenarios/reload.ts';

/** PASS/MISS against the target; FAIL when it could not be measured honestly (wrong answers, errors, crashes). */
export type Verdict = 'PASS' | 'MISS' | 'FAIL' | 'INFO';

interface Base {
  id: string;
  title: string;
  target: string;
  verdict: Verdict;
  /** Why the verdict is FAIL, or anything the reader must know. */
  notes: string[];
}

export interface ThroughputScenario extends Base {
  kind: 'throughput';
  subject: string;
  reference: string;
  contenders: ContenderResult[];
  ratio: number | null;
  /** Subject's median CPU µs per request over the reference's (filled in for the JSON by run.ts; see cpuRatio). */
  cpuRatio?: number | null;
}

export interface LatencyScenario extends Base {
  kind: 'latency';
  subject: string;
  reference: string;
  rate: number;
  contenders: LatencyContender[];
  /** Subject p99 minus reference p99, in ms. */
  addedP99Ms: number | null;
  addedP50Ms: number | null;
}

export interface ReloadScenario extends Base {
  kind: 'reload';
  routes: number;
  workers: number;
  write: 'rename' | 'inplace';
  reloads: ReloadMeasurement[];
  medianMs: number | null;
  maxMs: number | null;
  requests: number;
  failedRequests: number;
}

export interface MemoryScenario extends Base {
  kind: 'memory';
  rows: { name: string; routes: number; idleKiB: Record<string, number>; loadedPeakKiB: Record<string, number>; primaryIdleKiB?: number }[];
}

export interface ManagementScenario extends Base {
  kind: 'management';
  policies: number;
  pageSize: number;
  pages: number;
  /** Every page of a full list across namespaces, one after the other. */
  listMs: number;
  firstPageMs: number;
  /** One unpaged list of every object (no limit), across namespaces. */
  fullListMs: number;
  /** API answered → the data plane enforces the new policy; null: not within 10 s. */
  applyMs: (number | null)[];
  /** API answered the delete → the data plane no longer enforces it. */
  liftMs: (number | null)[];
}

export interface ErrorScenario extends Base {
  kind: 'error';
  error: string;
}

export type ScenarioResult = ThroughputScenario | LatencyScenario | ReloadScenario | MemoryScenario | ManagementScenario | ErrorScenario;

export interface BenchResults {
  meta: {
    date: string;
    gateway: 'portcullis' | 'stand-in';
    gitCommit: string | undefined;
    node: string;
    cpus: number;
    cpuModel: string;
    loadgen: { tool: string; version: string; connections: number; threads: number; durationSec: number; reps: number; warmupSec: number };
    latencyLoadgen: string;
    nginx: string | null;
    quick: boolean;
    /** Share of all cores busy during 1 s before the bench started (other processes). */
    busyBeforeStart: number | null;
    sharedCoresNote: string;
    totalSec?: number;
  };
  scenarios: ScenarioResult[];
}

export const THROUGHPUT_TARGET = 0.9;

/** What each of the two ratios of a throughput row means, printed under the table and in bench/README.md. */
export const RATIO_NOTE = 'ratio = requests/s of the subject over its reference, each in its own turns: on shared cores it swings with what else runs. ' +
  'CPU/request = user+system CPU of the system\'s whole process tree (/proc/<pid>/stat) over a timed run, divided by the answers with the expected status; ' +
  'shown as subject / reference = their ratio. It is the subject\'s own cost per request and barely moves with the neighbours: ' +
  'a gateway at 1.00× CPU/request would give 1.00× throughput on a CPU-bound core; 1.10× means each request costs it 10% more CPU than the reference.';

/** The subject's median CPU per request over the reference's, or null when either is unknown. */
export function cpuRatio(s: ThroughputScenario): number | null {
  const subject = s.contenders.find((c) => c.name === s.subject)?.medianCpuUsPerRequest ?? null;
  const reference = s.contenders.find((c) => c.name === s.reference)?.medianCpuUsPerRequest ?? null;
  return subject === null || reference === null || reference <= 0 ? null : subject / reference;
}
export const ADDED_P99_TARGET_MS = 1;
export const RELOAD_TARGET_MS = 1000;

export function throughputVerdict(subject: ContenderResult | undefined, reference: ContenderResult | undefined, ratio: number | null, target = THROUGHPUT_TARGET): { verdict: Verdict; notes: string[] } {
  const notes: string[] = [];
  for (const c of [subject, reference]) {
    if (!c) continue;
    if (!c.check.ok) notes.push(`${c.name} answered wrongly: ${c.check.detail}`);
    const errored = c.runs.filter((r) => (r.errorCount ?? 0) > 0).length;
    const failed = c.runs.filter((r) => r.failure).length;
    if (errored) notes.push(`${c.name}: ${errored} of ${c.runs.length} runs had errors (not counted)`);
    if (failed) notes.push(`${c.name}: ${failed} runs failed: ${c.runs.find((r) => r.failure)!.failure!.split('\n')[0]}`);
  }
  if (ratio === null) return { verdict: 'FAIL', notes };
  // Errors under load are failures of the gateway, whatever its clean runs say.
  if (subject && subject.runs.some((r) => (r.errorCount ?? 0) > 0 || r.failure)) return { verdict: 'FAIL', notes };
  return { verdict: ratio >= target ? 'PASS' : 'MISS', notes };
}
