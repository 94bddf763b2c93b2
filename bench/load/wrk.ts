// wrk driver: one wrk process per run, numbers from the Lua done() hook (wrk-lua.ts).
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { startChild } from '../processes.ts';
import { tempDir } from '../tempdirs.ts';
import { sumErrors, type LoadGenerator, type LoadResult, type LoadSpec } from './types.ts';
import { RESULT_MARKER, wrkScript } from './wrk-lua.ts';

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
  checked: number;
  bad: number;
  example: string;
}

export async function wrkGenerator(path: string): Promise<LoadGenerator> {
  const dir = tempDir('wrk');
  const plainScript = join(dir, 'plain.lua');
  writeFileSync(plainScript, wrkScript(undefined));
  let scripts = 0;
  const scriptFor = (spec: LoadSpec): string => {
    if (!spec.verify && !spec.rotate) return plainScript;
    const file = join(dir, `script-${++scripts}.lua`);
    writeFileSync(file, wrkScript(spec.verify, spec.rotate));
    return file;
  };
  // `wrk --version` prints the version and exits 1.
  const out = await promisify(execFile)(path, ['--version']).then((r) => r.stdout, (e: { stdout?: string }) => e.stdout ?? '');
  const version = /wrk\s+(\S+)/.exec(out)?.[1] ?? 'unknown';
  return { tool: 'wrk', version, run: (spec) => runWrk(path, scriptFor(spec), spec) };
}

async function runWrk(path: string, script: string, spec: LoadSpec): Promise<LoadResult> {
  const args = [
    `-t${spec.threads}`, `-c${spec.connections}`, `-d${Math.max(1, Math.round(spec.durationSec))}s`,
    '--timeout', '5s', '-s', script,
  ];
  for (const [name, value] of Object.entries(spec.headers)) {
    // wrk adds its own Host unless it finds exactly "Host" (wrk.lua is case-sensitive); two Host
    // headers in Lua-table order would make the route under test match only some of the time.
    args.push('-H', `${name.toLowerCase() === 'host' ? 'Host' : name}: ${value}`);
  }
  args.push(spec.url);
  const child = startChild('wrk', path, args);
  const exit = await child.exited;
  await child.stop();
  const line = child.output().split('\n').find((l) => l.startsWith(RESULT_MARKER));
  if (!line) throw new Error(`wrk gave no result (exit ${exit.code ?? exit.signal}):\n${child.output()}`);
  const j = JSON.parse(line.slice(RESULT_MARKER.length)) as WrkJson;
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
    verified: spec.verify ? { checked: j.checked, mismatches: j.bad, example: j.example || undefined } : undefined,
  };
}
