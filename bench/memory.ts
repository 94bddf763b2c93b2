// Resident memory of processes, from /proc (Linux only; elsewhere: undefined).
import { readFileSync, readdirSync } from 'node:fs';

/** VmRSS of a process in KiB, or undefined when it is gone or /proc is not there. */
export function rssKiB(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after "pid (comm)": [0] is field 3 (state), [1] ppid, [11] utime, [12] stime. */
export function statFields(pid: number): string[] | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // "pid (comm) state ppid ..." — comm may contain spaces and parentheses.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  } catch {
    return undefined;
  }
}

function parentOf(pid: number): number | undefined {
  const rest = statFields(pid);
  return rest ? Number(rest[1]) : undefined;
}

/** Direct children of a process (the gateway's workers are its children). */
export function childPids(pid: number): number[] {
  try {
    const list = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    if (list) return list.split(/\s+/).map(Number);
  } catch {
    // no CONFIG_PROC_CHILDREN: scan /proc below
  }
  const out: number[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return out;
  }
  for (const e of entries) {
    if (!/^\d+$/.test(e)) continue;
    if (parentOf(Number(e)) === pid) out.push(Number(e));
  }
  return out.sort((a, b) => a - b);
}

/** Tracks the peak RSS of a set of processes while a run is going. */
export class RssSampler {
  readonly peaks = new Map<number, number>();
  private timer: NodeJS.Timeout | undefined;
  private pids: number[];

  constructor(pids: number[]) {
    this.pids = pids;
  }

  start(intervalMs = 250): this {
    this.sample();
    this.timer = setInterval(() => this.sample(), intervalMs);
    return this;
  }

  stop(): Map<number, number> {
    if (this.timer) clearInterval(this.timer);
    this.sample();
    return this.peaks;
  }

  private sample(): void {
    for (const pid of this.pids) {
      const kib = rssKiB(pid);
      if (kib !== undefined && kib > (this.peaks.get(pid) ?? 0)) this.peaks.set(pid, kib);
    }
  }
}
