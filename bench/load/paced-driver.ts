// Starts the paced generator (paced.ts) in its own process and returns its result.
import { join } from 'node:path';
import { startChild } from '../processes.ts';
import type { PacedResult, PacedSpec } from './paced.ts';

const CHILD = join(import.meta.dirname, 'paced.ts');

export async function runPaced(spec: PacedSpec): Promise<PacedResult> {
  const child = startChild('paced load', process.execPath, [CHILD, JSON.stringify(spec)], { stdinLifeline: true });
  try {
    const line = await child.waitForLine((l) => l.startsWith('{'), (spec.durationSec + 30) * 1000);
    return JSON.parse(line) as PacedResult;
  } finally {
    await child.stop();
  }
}
