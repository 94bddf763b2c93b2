// Command line and environment of `npm run bench` / `node bench/run.ts`.
import { join } from 'node:path';
import { parseArgs } from 'node:util';

export const SCENARIOS = ['plain1', 'plain2', 'routes', 'regex', 'reload', 'latency', 'istio', 'management', 'ratelimit', 'secpolicy'] as const;
export type ScenarioId = (typeof SCENARIOS)[number];

export interface Options {
  quick: boolean;
  durationSec: number;
  warmupSec: number;
  reps: number;
  connections: number;
  threads: number;
  /** Routes in the large configuration (and in the reload scenario). */
  routes: number;
  /** Routes in the small configuration it is compared with. */
  fewRoutes: number;
  reloads: number;
  /** How the reload scenario replaces the config file. */
  reloadWrite: 'rename' | 'inplace';
  only: Set<ScenarioId>;
  standIn: boolean;
  loadgen: 'wrk' | 'autocannon' | undefined;
  nginx: boolean;
  strict: boolean;
  out: string;
}

export const USAGE = `usage: npm run bench -- [options]
  --quick              2 s runs, one repetition (a smoke check of the harness, not figures)
  --duration SEC       seconds per timed run (env BENCH_DURATION; default 10)
  --reps N             repetitions per system, median reported (env BENCH_REPS; default 3)
  --connections N      client connections (env BENCH_CONNECTIONS; default 50)
  --threads N          wrk threads (env BENCH_THREADS; default 1)
  --only LIST          some of: ${SCENARIOS.join(',')}
  --loadgen TOOL       wrk | autocannon (default: wrk when available)
  --no-nginx           leave nginx out
  --stand-in           measure bench/stand-in/gateway.ts instead of bin/portcullis.js
  --strict             exit 1 when a target is missed (always exit 1 on failed checks)
  --out FILE           results JSON (default bench/results/latest.json)
env BENCH_RELOAD_WRITE=rename|inplace  how the reload scenario rewrites the config (default rename)`;

function positiveInt(name: string, raw: string | undefined, fallback: number): number {
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`${name} must be a positive integer (got ${JSON.stringify(raw)})`);
  return n;
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv): Options | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      reps: { type: 'string' },
      connections: { type: 'string' },
      threads: { type: 'string' },
      only: { type: 'string' },
      loadgen: { type: 'string' },
      'no-nginx': { type: 'boolean', default: false },
      'stand-in': { type: 'boolean', default: false },
      strict: { type: 'boolean', default: false },
      out: { type: 'string' },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help) return 'help';
  const quick = values.quick;
  const durationSec = positiveInt('duration', values.duration ?? env.BENCH_DURATION, quick ? 2 : 10);
  const reps = positiveInt('reps', values.reps ?? env.BENCH_REPS, quick ? 1 : 3);
  const only = new Set<ScenarioId>();
  for (const s of (values.only ?? SCENARIOS.join(',')).split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(SCENARIOS as readonly string[]).includes(s)) throw new Error(`--only: unknown scenario ${s} (${SCENARIOS.join(', ')})`);
    only.add(s as ScenarioId);
  }
  // Latency runs at half the peak measured by plain1.
  if (only.has('latency')) only.add('plain1');
  const loadgen = values.loadgen;
  if (loadgen !== undefined && loadgen !== 'wrk' && loadgen !== 'autocannon') throw new Error('--loadgen must be wrk or autocannon');
  const reloadWrite = env.BENCH_RELOAD_WRITE ?? 'rename';
  if (reloadWrite !== 'rename' && reloadWrite !== 'inplace') throw new Error('BENCH_RELOAD_WRITE must be rename or inplace');
  return {
    quick,
    durationSec,
    warmupSec: 1,
    reps,
    connections: positiveInt('connections', values.connections ?? env.BENCH_CONNECTIONS, 50),
    threads: positiveInt('threads', values.threads ?? env.BENCH_THREADS, 1),
    routes: 1000,
    fewRoutes: 10,
    reloads: quick ? 1 : 3,
    reloadWrite,
    only,
    standIn: values['stand-in'],
    loadgen,
    nginx: !values['no-nginx'],
    strict: values.strict,
    out: values.out ?? join(import.meta.dirname, 'results', 'latest.json'),
  };
}
