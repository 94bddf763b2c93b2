// Runs autocannon in its own process (so the harness's event loop never
// competes with it) and prints one JSON line with the numbers we need.
//   node bench/load/autocannon-child.ts '<LoadSpec JSON>'
import { createRequire } from 'node:module';
import { exitWithParent } from '../lifeline.ts';
import type { LoadSpec } from './types.ts';

interface Histogram {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  total?: number;
}

interface AutocannonResult {
  requests: Histogram;
  latency: Histogram;
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}

type Autocannon = (opts: Record<string, unknown>) => Promise<AutocannonResult>;

if (import.meta.main) {
  exitWithParent();
  const spec = JSON.parse(process.argv[2]) as LoadSpec;
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  const r = await autocannon({
    url: spec.url,
    headers: spec.headers,
    connections: spec.connections,
    duration: spec.durationSec,
    timeout: 5,
    // autocannon can check bodies, not headers: the undici check covers the headers.
    ...(spec.verify ? { expectBody: spec.verify.body } : {}),
  });
  // autocannon reports latency in milliseconds (fractional); we report microseconds.
  const us = (ms: number): number => Math.round(ms * 1000);
  process.stdout.write(JSON.stringify({
    requests: r.requests.total ?? 0,
    durationSec: r.duration,
    errors: { connect: r.errors - r.timeouts, read: 0, write: 0, timeout: r.timeouts, status: r.non2xx },
    latencyUs: { p50: us(r.latency.p50), p90: us(r.latency.p90), p99: us(r.latency.p99), max: us(r.latency.max) },
    verified: spec.verify
      ? { checked: r.requests.total ?? 0, mismatches: r.mismatches + r.non2xx, example: r.mismatches ? 'body differs' : r.non2xx ? 'non-2xx status' : undefined }
      : undefined,
  }) + '\n');
  process.exit(0);
}
