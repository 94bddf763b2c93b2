// bench/cpu.ts: the CPU time the bench divides by the answers (CPU per request)
// is the time the process tree really spent, read from /proc, and a process
// that leaves between two readings is counted in neither.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { cpuSecondsBetween, cpuSnapshot } from '../bench/cpu.ts';

// Spins until it has used 300 ms of CPU, says so, then waits for stdin to close.
const SPIN = `
const t0 = process.cpuUsage();
while (true) { const u = process.cpuUsage(t0); if (u.user + u.system >= 300_000) break; }
process.stdout.write('spun\\n');
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
`;

test('cpuSnapshot/cpuSecondsBetween measure the CPU a child spent between two readings', { skip: !existsSync('/proc/self/stat') }, async () => {
  const child = spawn(process.execPath, ['-e', SPIN], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const before = cpuSnapshot(child.pid!);
    assert.ok(before?.has(child.pid!), 'the child is in its own snapshot');
    await once(child.stdout!, 'data');
    const after = cpuSnapshot(child.pid!)!;
    const spent = cpuSecondsBetween(before!, after);
    // 300 ms of spinning, read in clock ticks (10 ms): at least 0.25 s; less than the child's whole life so far.
    assert.ok(spent >= 0.25, `spent ${spent} s`);
    assert.ok(spent < 5, `spent ${spent} s`);
    // A pid only in the later snapshot (a worker started meanwhile) adds nothing.
    const extra = new Map(after).set(999_999_999, 1e9);
    assert.equal(cpuSecondsBetween(before!, extra), spent);
  } finally {
    child.stdin!.end();
    await once(child, 'exit');
  }
  assert.equal(cpuSnapshot(child.pid!), undefined, 'a process that is gone has no snapshot');
});
