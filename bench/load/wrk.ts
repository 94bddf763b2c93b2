// wrk driver. The numbers come from a Lua done() hook that prints one JSON
// line, not from scraping wrk's human output. No response() hook: defining one
// makes wrk parse every response in Lua and would measure wrk, not the proxy.
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startChild } from '../processes.ts';
import { sumErrors, type LoadGenerator, type LoadResult, type LoadSpec } from './types.ts';

const MARKER = 'BENCH_RESULT ';

const DONE_SCRIPT = `
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARKER}{"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;

interface WrkJson {
  requests: number;
  duration_us: number;
  connect: number;
  read: number;
  write: number;
  status: number;
  timeout: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
}

export async function wrkGenerator(path: string): Promise<LoadGenerator> {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-bench-wrk-'));
  const script = join(dir, 'done.lua');
  writeFileSync(script, DONE_SCRIPT);
  // `wrk --version` prints the version and exits 1.
  const out = await promisify(execFile)(path, ['--version']).then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? '');
  const version = /wrk\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  return { tool: 'wrk', version, run: (spec) => runWrk(path, script, spec) };
}

async function runWrk(path: string, script: string, spec: LoadSpec): Promise<LoadResult> {
  const args = [
    `-t${spec.threads}`, `-c${spec.connections}`, `-d${Math.max(1, Math.round(spec.durationSec))}s`,
    '--timeout', '5s', '-s', script,
  ];
  for (const [name, value] of Object.entries(spec.headers)) args.push('-H', `${name}: ${value}`);
  args.push(spec.url);
  const child = startChild('wrk', path, args);
  const exit = await child.exited;
  const line = child.output().split('\n').find((l) => l.startsWith(MARKER));
  if (!line) throw new Error(`wrk gave no result (exit ${exit.code ?? exit.signal}):\n${child.output()}`);
  await child.stop();
  const j = JSON.parse(line.slice(MARKER.length)) as WrkJson;
  const errors = { connect: j.connect, read: j.read, write: j.write, timeout: j.timeout, status: j.status };
  const durationSec = j.duration_us / 1e6;
  return {
    tool: 'wrk',
    requests: j.requests,
    durationSec,
    rps: durationSec > 0 ? j.requests / durationSec : 0,
    errors,
    errorCount: sumErrors(errors),
    latencyUs: { p50: j.p50, p90: j.p90, p99: j.p99, max: j.max },
  };
}
