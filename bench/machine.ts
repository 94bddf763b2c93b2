// How busy the machine is before we start: other work on these cores skews
// every figure, so it is measured and printed rather than assumed away.
import { readFileSync } from 'node:fs';
import { sleep } from './net.ts';

function cpuTimes(): { busy: number; total: number } | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0];
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...
    const idle = v[3] + (v[4] ?? 0);
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    return { busy: total - idle, total };
  } catch {
    return undefined;
  }
}

/** Fraction (0–1) of all cores that were busy over `ms`; undefined without /proc. */
export async function cpuBusy(ms: number): Promise<number | undefined> {
  const a = cpuTimes();
  await sleep(ms);
  const b = cpuTimes();
  if (!a || !b || b.total === a.total) return undefined;
  return (b.busy - a.busy) / (b.total - a.total);
}
