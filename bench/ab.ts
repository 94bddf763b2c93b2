// `npm run bench:ab`: CPU microseconds per request of gateway checkouts (and
// the bare proxy), loaded at the same moment — for measuring a change.
//
// The throughput bench times systems in turns; on shared cores each turn gets
// a different share of the machine, and even CPU per request moves ±10% with
// it (more or fewer requests per wake-up, cache misses). Here every system is
// loaded by its own load generator at the same time, round after round, so
// whatever else runs hits all of them alike. It narrows the noise, it does not
// remove it: single rounds still swing by 10% (read the medians), and the same
// checkout twice (A/A, 8–10 rounds, load average 4.7–5.6 from other work) gave
// medians 2%, 3% and 8% apart — a change under a few % needs a quiet machine
// or many rounds. Two systems at a time are steadier than three. Under heavy
// load from other work the gateway's CPU per request rises more than the
// bare proxy's (the plain route: 1.07× the bare proxy at load average 4,
// 1.17× at 4.5–6, the same with this session's first commit). Each system answers one
// checked request and a verified warm-up (3 s, which also warms the JIT) first.
//
//   npm run bench:ab -- [--scenario plain|full|key] [--rounds N] [--duration SEC] [--bare] CHECKOUT[@scenario] ...
//
// CHECKOUT is a directory holding the project with its node_modules (`.` is
// this one; another: `git worktree add ../main-copy main && npm ci` there, or
// `git archive main | tar -x -C DIR` and a symlink to this node_modules).
import { join, resolve } from 'node:path';
import { existsSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { checkOnce, responseExpectation, verificationProblem } from './check.ts';
import { plainConfig, type GeneratedConfig, type Upstreams } from './config-gen.ts';
import { apiKeyConfig, fullChainConfig } from './config-securitypolicy.ts';
import { cpuSecondsBetween, cpuSnapshot } from './cpu.ts';
import { startGateway } from './gateway.ts';
import { benchIssuer, type BenchIssuer } from './jwt.ts';
import { chooseLoadGenerator } from './load/choose.ts';
import type { LoadSpec } from './load/types.ts';
import { freePort } from './net.ts';
import { installCleanup, stopAll } from './processes.ts';
import { startBareProxy, startUpstream } from './references.ts';
import { median, rotate } from './stats.ts';
import type { System } from './system.ts';
import { removeTempDirs, tempDir } from './tempdirs.ts';

const USAGE = 'usage: npm run bench:ab -- [--scenario plain|full|key] [--rounds N] [--duration SEC] [--connections N] [--bare] CHECKOUT[@scenario] ...';
const SCENARIOS = {
  plain: (port: number, up: Upstreams) => plainConfig(port, up),
  full: (port: number, up: Upstreams, jwt: BenchIssuer) => fullChainConfig(port, up, jwt),
  key: (port: number, up: Upstreams) => apiKeyConfig(port, up),
} satisfies Record<string, (port: number, up: Upstreams, jwt: BenchIssuer) => GeneratedConfig>;
type Scenario = keyof typeof SCENARIOS;

const log = (msg: string): void => void process.stderr.write(msg + '\n');

function count(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} must be a positive integer (got ${JSON.stringify(raw)})`);
  return n;
}

async function main(argv: string[]): Promise<void> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      scenario: { type: 'string', default: 'full' },
      rounds: { type: 'string', default: '8' },
      duration: { type: 'string', default: '3' },
      connections: { type: 'string', default: '50' },
      bare: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  if (values.help || positionals.length === 0) {
    process.stdout.write(USAGE + '\n');
    return;
  }
  const rounds = count('rounds', values.rounds);
  const durationSec = count('duration', values.duration);
  const connections = count('connections', values.connections);
  const load = await chooseLoadGenerator(undefined, log);
  const upstream = await startUpstream();
  const jwt = benchIssuer();
  const dir = tempDir('ab');
  const systems: { name: string; system: System }[] = [];
  for (const [i, arg] of positionals.entries()) {
    const at = arg.lastIndexOf('@');
    const checkout = resolve(at > 0 ? arg.slice(0, at) : arg);
    const scenario = at > 0 ? arg.slice(at + 1) : values.scenario;
    if (!existsSync(join(checkout, 'bin', 'portcullis.js'))) throw new Error(`${checkout}: not a checkout of the project (no bin/portcullis.js)`);
    if (!(scenario in SCENARIOS)) throw new Error(`unknown scenario ${JSON.stringify(scenario)} (${Object.keys(SCENARIOS).join(', ')})`);
    const port = await freePort();
    const config = SCENARIOS[scenario as Scenario](port, upstream.ports, jwt);
    const configFile = `${dir}/${i}.yaml`;
    writeFileSync(configFile, config.yaml);
    const gw = await startGateway({ configFile, port, workers: 1, watch: false, probe: config.probe, standIn: false, checkout });
    systems.push({ name: `#${systems.length + 1} ${checkout}@${scenario}`, system: gw });
    if (i === 0 && values.bare) systems.push({ name: `#${systems.length + 1} bare proxy`, system: await startBareProxy(upstream.ports.target, 1, plainConfig(port, upstream.ports).probe) });
  }
  const spec = (s: System, seconds: number): LoadSpec => ({ url: s.baseUrl + s.probe.path, headers: s.probe.headers, connections, threads: 1, durationSec: seconds });
  for (const { name, system } of systems) {
    const check = await checkOnce(system.baseUrl, system.probe);
    if (!check.ok) throw new Error(`${name}: wrong answer — ${check.detail}`);
    const problem = verificationProblem(await load.run({ ...spec(system, 3), verify: responseExpectation(system.probe) }));
    if (problem) throw new Error(`${name}: wrong answers under load — ${problem}`);
  }
  const perRequest = new Map<string, number[]>(systems.map((s) => [s.name, []]));
  for (let r = 0; r < rounds; r++) {
    const before = systems.map((s) => cpuSnapshot(s.system.child.pid));
    // Load generators start in a different order each round: the one started last did ~4% worse here, whichever system it loaded.
    const started = new Map(rotate(systems.map((_, i) => i), r).map((i) => [i, load.run(spec(systems[i].system, durationSec))]));
    const results = await Promise.all(systems.map((_, i) => started.get(i)!));
    const after = systems.map((s) => cpuSnapshot(s.system.child.pid));
    const cells = systems.map((s, i) => {
      const res = results[i];
      const answered = res.requests - res.errors.status;
      const b = before[i];
      const a = after[i];
      if (res.errorCount > 0 || !a || !b || answered <= 0) return `${s.name}: ${res.errorCount} errors, not counted`;
      const us = (cpuSecondsBetween(b, a) * 1e6) / answered;
      perRequest.get(s.name)!.push(us);
      return us.toFixed(1);
    });
    log(`round ${r + 1}/${rounds}: ${cells.join(' | ')} µs/request`);
  }
  const first = median(perRequest.get(systems[0].name)!);
  for (const { name } of systems) {
    const m = median(perRequest.get(name)!);
    const vs = m !== null && first !== null && name !== systems[0].name ? ` = ${(m / first).toFixed(3)}× the first` : '';
    process.stdout.write(`${name}: median ${m === null ? 'n/a' : m.toFixed(2)} µs CPU/request over ${perRequest.get(name)!.length} rounds${vs}\n`);
  }
}

installCleanup();
try {
  await main(process.argv.slice(2));
} catch (err) {
  log(`bench:ab: ${(err as Error).message}\n${USAGE}`);
  process.exitCode = 1;
} finally {
  await stopAll();
  removeTempDirs();
}
