// Temp directories the bench creates (configs, nginx prefix, wrk scripts),
// removed on every way out, like the child processes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const dirs = new Set<string>();

export function tempDir(prefix: string): string {
  if (dirs.size === 0) process.on('exit', removeTempDirs);
  const dir = mkdtempSync(join(tmpdir(), `portcullis-bench-${prefix}-`));
  dirs.add(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  dirs.clear();
}
