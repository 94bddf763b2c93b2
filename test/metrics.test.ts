// The per-request metrics are plain accumulators that prom-client reads at
// scrape time: their text form, bucket edges and the sum across workers must
// be exactly what prom-client's own Counter and Histogram would give.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AggregatorRegistry, Counter, Histogram, Registry } from 'prom-client';
import { Metrics } from '../src/admin/metrics.ts';
import { DataPlaneMetrics } from '../src/admin/request-metrics.ts';
import { processMetrics } from '../src/admin/process-metrics.ts';

const BOUNDS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const OBSERVED: [string, number, number][] = [
  ['default/a/0', 200, 0.0012],
  ['default/a/0', 200, 0.001], // on a bucket edge: counted in le="0.001"
  ['default/a/0', 503, 0.3],
  ['-', 404, 0.00001],
  ['default/b/1', 200, 42], // beyond the last bound: only +Inf
];

/** What prom-client's own metrics print for the same observations. */
async function reference(observed: typeof OBSERVED): Promise<string> {
  const registry = new Registry();
  const c = new Counter({ name: 'portcullis_requests_total', help: 'Requests answered, by route and status', labelNames: ['route', 'status'], registers: [registry] });
  const h = new Histogram({ name: 'portcullis_request_duration_seconds', help: 'Time from request to response end, by route', labelNames: ['route'], buckets: BOUNDS, registers: [registry] });
  for (const [route, status, s] of observed) {
    c.labels(route, String(status)).inc();
    h.labels(route).observe(s);
  }
  return registry.metrics();
}

function lines(text: string, prefix: string): string[] {
  return text.split('\n').filter((l) => l.startsWith(prefix)).sort();
}

test('requests and durations print exactly as prom-client Counter and Histogram would', async () => {
  const m = new Metrics({ processMetrics: false });
  for (const [route, status, s] of OBSERVED) m.dataPlane.observeRequest(route, status, s);
  const ours = await m.registry.metrics();
  const theirs = await reference(OBSERVED);
  for (const name of ['portcullis_requests_total', 'portcullis_request_duration_seconds']) {
    assert.deepEqual(lines(ours, name), lines(theirs, name));
    assert.deepEqual(lines(ours, `# TYPE ${name}`), lines(theirs, `# TYPE ${name}`));
  }
  assert.match(ours, /portcullis_request_duration_seconds_bucket\{le="0\.001",route="default\/a\/0"\} 1\n/);
});

test('the cluster aggregation sums every worker (their snapshots, made without prom-client), as for prom-client metrics', async () => {
  const w1 = new DataPlaneMetrics();
  const w2 = new DataPlaneMetrics();
  for (const [route, status, s] of OBSERVED) w1.observeRequest(route, status, s);
  for (const [route, status, s] of OBSERVED.slice(0, 2)) w2.observeRequest(route, status, s);
  w1.upstreamErrors.inc('default/svc', 'connect');
  w2.upstreamErrors.inc('default/svc', 'connect');
  w2.upstreamErrors.inc('default/svc', 'timeout');
  const [p1, p2] = [processMetrics(), processMetrics()];
  const snapshot = async (w: DataPlaneMetrics, p: typeof p1) => [...(await w.snapshot()), ...(await Promise.all(p.map((f) => f.get())))];
  const merged = await AggregatorRegistry.aggregate([await snapshot(w1, p1), await snapshot(w2, p2)] as never).metrics();
  const theirs = await reference([...OBSERVED, ...OBSERVED.slice(0, 2)]);
  assert.deepEqual(lines(merged, 'portcullis_requests_total{'), lines(theirs, 'portcullis_requests_total{'));
  assert.deepEqual(lines(merged, 'portcullis_request_duration_seconds'), lines(theirs, 'portcullis_request_duration_seconds'));
  assert.match(merged, /portcullis_requests_total\{route="default\/a\/0",status="200"\} 4\n/);
  assert.match(merged, /# TYPE portcullis_upstream_errors_total counter\n/);
  assert.match(merged, /portcullis_upstream_errors_total\{backend="default\/svc",kind="connect"\} 2\n/);
  assert.match(merged, /portcullis_upstream_errors_total\{backend="default\/svc",kind="timeout"\} 1\n/);
  // Process families: summed memory of both, the start time omitted (it differs per worker), the loop delay averaged.
  const rss = Number(/^portcullis_process_resident_memory_bytes (\d+(\.\d+)?)$/m.exec(merged)?.[1]);
  assert.ok(rss > process.memoryUsage.rss(), `summed resident memory ${rss}`);
  assert.match(merged, /^portcullis_process_cpu_seconds_total \d/m);
  assert.match(merged, /^portcullis_nodejs_eventloop_lag_p99_seconds \d/m);
  assert.doesNotMatch(merged, /^portcullis_process_start_time_seconds \d/m);
});
