// Which load generator drives the throughput runs: wrk when on PATH (installed
// with apt-get when missing and we are root), else autocannon from node_modules.
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';
import { startChild, describeExit } from '../processes.ts';
import { autocannonGenerator } from './autocannon.ts';
import type { LoadGenerator } from './types.ts';
import { wrkGenerator } from './wrk.ts';

export function onPath(command: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    const candidate = join(dir, command);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

async function aptInstallWrk(log: (msg: string) => void): Promise<string | undefined> {
  if (process.getuid?.() !== 0 || !onPath('apt-get')) return undefined;
  log('wrk is missing: trying `apt-get install -y wrk`…');
  const child = startChild('apt-get', 'apt-get', ['install', '-y', 'wrk'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  const timer = setTimeout(() => void child.stop(), 180_000);
  const exit = await child.exited;
  clearTimeout(timer);
  await child.stop();
  if (exit.code !== 0) {
    log(`apt-get install wrk failed (${describeExit(exit)}); falling back to autocannon`);
    return undefined;
  }
  return onPath('wrk');
}

export async function chooseLoadGenerator(preference: 'wrk' | 'autocannon' | undefined, log: (msg: string) => void): Promise<LoadGenerator> {
  if (preference === 'autocannon') return autocannonGenerator();
  const wrk = onPath('wrk') ?? (await aptInstallWrk(log));
  if (wrk) return wrkGenerator(wrk);
  if (preference === 'wrk') throw new Error('wrk was asked for (--loadgen wrk) but is not on PATH and could not be installed');
  log('wrk not available: using autocannon (a Node.js load generator: it needs more CPU per request than wrk, so absolute figures are lower)');
  return autocannonGenerator();
}
