// autocannon driver, the fallback when wrk is missing. It runs in a child
// process (autocannon-child.ts) like wrk does, so both tools load the machine alike.
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { startChild } from '../processes.ts';
import { sumErrors, type LoadErrors, type LoadGenerator, type LoadResult, type LoadSpec, type Verification } from './types.ts';

const CHILD = join(import.meta.dirname, 'autocannon-child.ts');

export function autocannonGenerator(): LoadGenerator {
  const pkg = createRequire(import.meta.url)('autocannon/package.json') as { version: string };
  return { tool: 'autocannon', version: pkg.version, run: runAutocannon };
}

async function runAutocannon(spec: LoadSpec): Promise<LoadResult> {
  if (spec.rotate) throw new Error('rotating a request header (a population of tokens) needs wrk');
  const child = startChild('autocannon', process.execPath, [CHILD, JSON.stringify(spec)], { stdinLifeline: true });
  let line: string;
  try {
    line = await child.waitForLine((l) => l.startsWith('{'), (spec.durationSec + 30) * 1000);
  } finally {
    await child.stop();
  }
  const j = JSON.parse(line) as { requests: number; durationSec: number; errors: LoadErrors; latencyUs: LoadResult['latencyUs']; verified?: Verification };
  return {
    tool: 'autocannon',
    requests: j.requests,
    durationSec: j.durationSec,
    rps: j.durationSec > 0 ? j.requests / j.durationSec : 0,
    errors: j.errors,
    errorCount: sumErrors(j.errors),
    latencyUs: j.latencyUs,
    verified: j.verified,
  };
}
