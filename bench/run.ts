// `npm run bench` — every scenario in one invocation, against one upstream and
// one load generator; prints a table and writes bench/results/latest.json.
// See bench/README.md for what is measured and how to read it.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus } from 'node:os';
import { dirname } from 'node:path';
import type { BenchContext } from './context.ts';
import { GATEWAY_BIN, REPO, gatewayAvailable } from './gateway.ts';
import { chooseLoadGenerator, onPath } from './load/choose.ts';
import { USAGE, parseOptions, type Options } from './options.ts';
import { cpuBusy } from './machine.ts';
import { installCleanup, stopAll } from './processes.ts';
import { startUpstream } from './references.ts';
import { render } from './report.ts';
import { removeTempDirs, tempDir } from './tempdirs.ts';
import { cpuRatio, type BenchResults, type ScenarioResult } from './results.ts';
import { plainScenarios, reloadScenario, routesScenario } from './scenarios/suite.ts';
import { istioScenario } from './scenarios/istio.ts';
import { managementScenario } from './scenarios/management.ts';
import { regexScenario } from './scenarios/regex.ts';
import { rateLimitScenario } from './scenarios/rate-limit.ts';
import { securityPolicyScenario } from './scenarios/securitypolicy.ts';

/** Above this share of CPU used by others before we start, the figures are flagged as noisy. */
const BUSY_WARNING = 0.15;

const log = (msg: string): void => void process.stderr.write(msg + '\n');

function findNginx(): string | undefined {
  // /usr/sbin is not on every user's PATH.
  return onPath('nginx') ?? (existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : undefined);
}

function gitCommit(): string | undefined {
  try {
    return execFileSync('git', ['rev-parse', 'HEAD'], { cwd: REPO, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return undefined;
  }
}

async function main(opts: Options): Promise<number> {
  const startedAt = Date.now();
  if (!opts.standIn && !gatewayAvailable()) {
    log(`bench: ${GATEWAY_BIN} does not exist (the gateway has not landed in this checkout).\n` +
      'Run with --stand-in to exercise the harness against bench/stand-in/gateway.ts (its figures are labelled as such).');
    return 2;
  }
  const load = await chooseLoadGenerator(opts.loadgen, log);
  const busy = await cpuBusy(1000);
  if (busy !== undefined && busy > BUSY_WARNING) {
    log(`bench: WARNING: the machine was ${Math.round(busy * 100)}% busy before we started (other processes); figures will be noisy`);
  }
  const nginxPath = opts.nginx ? findNginx() : undefined;
  const workdir = tempDir('configs');
  const cores = availableParallelism();
  const results: BenchResults = {
    meta: {
      date: new Date().toISOString(),
      gateway: opts.standIn ? 'stand-in' : 'portcullis',
      gitCommit: gitCommit(),
      node: process.version,
      cpus: cores,
      cpuModel: cpus()[0]?.model ?? 'unknown',
      loadgen: { tool: load.tool, version: load.version, connections: opts.connections, threads: opts.threads, durationSec: opts.durationSec, reps: opts.reps, warmupSec: opts.warmupSec },
      latencyLoadgen: `bench/load/paced.ts (fixed rate in 1 ms ticks over ≤ ${opts.connections} keep-alive connections; autocannon's overallRate sends each second's quota in one burst, wrk2 absent)`,
      nginx: nginxPath ?? null,
      quick: opts.quick,
      busyBeforeStart: busy ?? null,
      sharedCoresNote: `the load generator, the proxies and the upstream all share this machine's ${cores} core(s): absolute figures are lower than on a dedicated setup; the ratios are what to read.`,
    },
    scenarios: [],
  };
  log(`bench: ${load.tool} ${load.version}, ${opts.durationSec} s × ${opts.reps} runs, ${opts.connections} connections; scenarios: ${[...opts.only].join(', ')}`);
  log(`bench: ${results.meta.sharedCoresNote}`);
  const ctx: BenchContext = { opts, load, upstream: await startUpstream(), nginxPath, workdir, log };
  const add = (list: ScenarioResult[]): void => void results.scenarios.push(...list);
  try {
    if (opts.only.has('plain1')) add(await plainScenarios(ctx, 1, opts.only.has('latency')));
    if (opts.only.has('istio')) add(await istioScenario(ctx));
    if (opts.only.has('ratelimit')) add(await rateLimitScenario(ctx));
    if (opts.only.has('secpolicy')) add(await securityPolicyScenario(ctx));
    if (opts.only.has('plain2')) add(await plainScenarios(ctx, 2, false));
    if (opts.only.has('routes')) add(await routesScenario(ctx));
    if (opts.only.has('regex')) add(await regexScenario(ctx));
    if (opts.only.has('reload')) add(await reloadScenario(ctx));
    if (opts.only.has('management')) add(await managementScenario(ctx));
  } finally {
    await stopAll();
    removeTempDirs();
  }
  results.meta.totalSec = Math.round((Date.now() - startedAt) / 1000);
  for (const s of results.scenarios) if (s.kind === 'throughput') s.cpuRatio = cpuRatio(s);
  process.stdout.write(render(results));
  mkdirSync(dirname(opts.out), { recursive: true });
  writeFileSync(opts.out, JSON.stringify(results, null, 2) + '\n');
  log(`bench: results written to ${opts.out} (${results.meta.totalSec} s in all)`);
  const failed = results.scenarios.some((s) => s.verdict === 'FAIL');
  const missed = results.scenarios.some((s) => s.verdict === 'MISS');
  return failed || (opts.strict && missed) ? 1 : 0;
}

installCleanup();
let opts: Options | 'help';
try {
  opts = parseOptions(process.argv.slice(2), process.env);
} catch (err) {
  log(`bench: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
if (opts === 'help') {
  process.stdout.write(USAGE + '\n');
  process.exit(0);
}
try {
  process.exitCode = await main(opts);
} catch (err) {
  log(`bench: ${(err as Error).stack ?? err}`);
  await stopAll();
  process.exitCode = 1;
}
