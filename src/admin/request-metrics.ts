// The data plane's metrics (requests by route and status, duration by route,
// upstream errors, dry-run decisions) kept as plain numbers and handed to
// prom-client only when it is scraped.
//
// Why not prom-client's Counter/Histogram directly: even through label
// children, every inc()/observe() validates and hashes its label object — about
// 0.4 µs a request, more than the gateway's own routing. These objects have the
// shape prom-client's Registry reads (name, help, type, aggregator, get()), so
// /metrics, its text format and the cluster aggregation across workers are
// prom-client's, unchanged. A worker never loads prom-client at all (about
// 19 MiB resident with its @opentelemetry/api): it sends these snapshots to
// the primary, whose prom-client sums them (src/workers/metrics-aggregate.ts).
import { stateStats } from '../state/registry.ts';
import { retryCounts } from '../upstream/retry-counts.ts';

/** One sample as prom-client's Registry reads it. */
export interface Sample {
  labels: Record<string, string | number>;
  value: number;
  /** The series name when it differs from the metric's (histogram _bucket/_sum/_count). */
  metricName?: string;
}

/** What prom-client's Registry reads of a metric: get() at scrape, aggregator across workers. */
export interface MetricSnapshot {
  name: string;
  help: string;
  type: 'counter' | 'gauge' | 'histogram';
  /** How the primary combines the workers' values (prom-client's aggregator names). */
  aggregator: 'sum' | 'average' | 'max' | 'omit';
  values: Sample[];
}

export interface MetricLike {
  readonly name: string;
  readonly help: string;
  readonly type: MetricSnapshot['type'];
  readonly aggregator: MetricSnapshot['aggregator'];
  get(): Promise<MetricSnapshot>;
  reset(): void;
}

/** A counter with labels {route, status}. */
export class RouteStatusCounter implements MetricLike {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  private counts = new Map<string, Map<number, number>>();

  constructor(name: string, help: string) {
    this.name = name;
    this.help = help;
  }

  inc(route: string, status: number): void {
    let byStatus = this.counts.get(route);
    if (!byStatus) this.counts.set(route, (byStatus = new Map()));
    byStatus.set(status, (byStatus.get(status) ?? 0) + 1);
  }

  async get(): Promise<MetricSnapshot> {
    const values: Sample[] = [];
    for (const [route, byStatus] of this.counts) {
      for (const [status, value] of byStatus) values.push({ labels: { route, status: String(status) }, value });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.clear();
  }
}

interface Series {
  /** Observations per bucket (not cumulative); the last slot is +Inf. */
  buckets: Float64Array;
  sum: number;
  count: number;
}

/** A histogram with the label {route}. */
export class RouteHistogram implements MetricLike {
  readonly type = 'histogram' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  private bounds: readonly number[];
  private series = new Map<string, Series>();

  constructor(name: string, help: string, bounds: readonly number[]) {
    this.name = name;
    this.help = help;
    this.bounds = [...bounds].sort((a, b) => a - b);
  }

  observe(route: string, value: number): void {
    let s = this.series.get(route);
    if (!s) this.series.set(route, (s = { buckets: new Float64Array(this.bounds.length + 1), sum: 0, count: 0 }));
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]) i++;
    s.buckets[i]++;
    s.sum += value;
    s.count++;
  }

  async get(): Promise<MetricSnapshot> {
    const values: Sample[] = [];
    const bucketName = `${this.name}_bucket`;
    for (const [route, s] of this.series) {
      let acc = 0;
      for (let i = 0; i < this.bounds.length; i++) {
        acc += s.buckets[i];
        values.push({ labels: { le: this.bounds[i], route }, value: acc, metricName: bucketName });
      }
      values.push({ labels: { le: '+Inf', route }, value: s.count, metricName: bucketName });
      values.push({ labels: { route }, value: s.sum, metricName: `${this.name}_sum` });
      values.push({ labels: { route }, value: s.count, metricName: `${this.name}_count` });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.series.clear();
  }
}

/** A counter with a fixed pair of label names (upstream errors by backend and kind, dry-run decisions by policy and decision). */
export class PairCounter implements MetricLike {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  private labelNames: readonly [string, string];
  private counts = new Map<string, Map<string, number>>();

  constructor(name: string, help: string, labelNames: readonly [string, string]) {
    this.name = name;
    this.help = help;
    this.labelNames = labelNames;
  }

  inc(first: string, second: string, by = 1): void {
    let inner = this.counts.get(first);
    if (!inner) this.counts.set(first, (inner = new Map()));
    inner.set(second, (inner.get(second) ?? 0) + by);
  }

  async get(): Promise<MetricSnapshot> {
    const [a, b] = this.labelNames;
    const values: Sample[] = [];
    for (const [first, inner] of this.counts) {
      for (const [second, value] of inner) values.push({ labels: { [a]: first, [b]: second }, value });
    }
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {
    this.counts.clear();
  }
}

/** A counter kept elsewhere and read at scrape time (nothing to reset here: the source owns the counts). */
class ScrapedCounter implements MetricLike {
  readonly type = 'counter' as const;
  readonly aggregator = 'sum' as const;
  readonly name: string;
  readonly help: string;
  readonly #read: () => Sample[];

  constructor(name: string, help: string, read: () => Sample[]) {
    this.name = name;
    this.help = help;
    this.#read = read;
  }

  async get(): Promise<MetricSnapshot> {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.#read() };
  }

  reset(): void {}
}

/** Global rate-limit decisions made without Redis, read from the process-wide stores (src/state). */
const storeErrors = () => new ScrapedCounter(
  'portcullis_ratelimit_store_errors_total',
  'Global rate-limit decisions made without Redis, by failure mode (open: admitted, closed: refused)',
  () => {
    const s = stateStats();
    const values: Sample[] = [];
    if (s.failOpen > 0) values.push({ labels: { mode: 'open' }, value: s.failOpen });
    if (s.failClosed > 0) values.push({ labels: { mode: 'closed' }, value: s.failClosed });
    return values;
  },
);

/** Retries (another attempt after a retriable answer or failure), by backend, read from the upstream retry counts. */
const retries = () => new ScrapedCounter(
  'portcullis_upstream_retries_total',
  'Retried upstream attempts (BackendTrafficPolicy / HTTPRoute retry), by backend',
  () => [...retryCounts()].map(([backend, value]) => ({ labels: { backend }, value })),
);

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Everything a serving process counts: what the data plane writes to, and what /metrics reads. */
export class DataPlaneMetrics {
  readonly requests = new RouteStatusCounter('portcullis_requests_total', 'Requests answered, by route and status');
  readonly duration = new RouteHistogram('portcullis_request_duration_seconds', 'Time from request to response end, by route', BUCKETS);
  readonly upstreamErrors = new PairCounter('portcullis_upstream_errors_total', 'Upstream failures, by backend and kind (connect, reset, timeout, no_endpoint)', ['backend', 'kind']);
  readonly dryRunDecisions = new PairCounter('portcullis_dry_run_decisions_total', 'Would-be decisions of dry-run (istio.io/dry-run) policies, never enforced, by policy and decision', ['policy', 'decision']);
  readonly refusedConnections = new PairCounter('portcullis_connections_refused_total', 'Connections closed unanswered for what they sent first, by listener port and reason (proxy_protocol_missing, proxy_protocol_invalid)', ['port', 'reason']);
  readonly families: readonly MetricLike[] = [this.requests, this.duration, this.upstreamErrors, this.dryRunDecisions, this.refusedConnections, storeErrors(), retries()];

  observeRequest(route: string, status: number, seconds: number): void {
    this.requests.inc(route, status);
    this.duration.observe(route, seconds);
  }

  /** Every family as prom-client's getMetricsAsJSON() gives it (what a worker sends the primary). */
  snapshot(): Promise<MetricSnapshot[]> {
    return Promise.all(this.families.map((f) => f.get()));
  }
}
