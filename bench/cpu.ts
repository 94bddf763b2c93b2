// CPU time a system spends, from /proc/<pid>/stat (Linux only; elsewhere:
// undefined). Divided by the answers it gave, it is what one request costs the
// system whatever else runs on the machine: on shared cores requests/s swing
// with the neighbours' load, CPU per request much less.
import { execFileSync } from 'node:child_process';
import { childPids, statFields } from './memory.ts';

/** Clock ticks per second of utime/stime (USER_HZ; 100 on every Linux we know, asked once). */
const TICKS_PER_SEC = ((): number => {
  try {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
    return Number.isInteger(n) && n > 0 ? n : 100;
  } catch {
    return 100;
  }
})();

/** utime + stime of one process (all its threads), in ticks; undefined when it is gone. */
function processTicks(pid: number): number | undefined {
  const rest = statFields(pid);
  return rest ? Number(rest[11]) + Number(rest[12]) : undefined;
}

/** A process and all its descendants (a gateway's primary and workers, nginx's master and workers). */
function processTree(root: number): number[] {
  const out = [root];
  for (let i = 0; i < out.length; i++) out.push(...childPids(out[i]));
  return out;
}

/** CPU ticks used by a process tree so far, by pid (so a pid that leaves between two readings is left out of both). */
export function cpuSnapshot(root: number): Map<number, number> | undefined {
  const snap = new Map<number, number>();
  for (const pid of processTree(root)) {
    const ticks = processTicks(pid);
    if (ticks !== undefined) snap.set(pid, ticks);
  }
  return snap.size > 0 ? snap : undefined;
}

/** CPU seconds the processes present in both snapshots used between them. */
export function cpuSecondsBetween(before: Map<number, number>, after: Map<number, number>): number {
  let ticks = 0;
  for (const [pid, t] of after) {
    const t0 = before.get(pid);
    if (t0 !== undefined) ticks += t - t0;
  }
  return ticks / TICKS_PER_SEC;
}
