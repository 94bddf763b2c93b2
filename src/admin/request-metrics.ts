// The two per-request metrics (requests by route and status, duration by route)
// kept as plain numbers and handed to prom-client only when it is scraped.
//
// Why not prom-client's Counter/Histogram directly: even through label
// children, every inc()/observe() validates and hashes its label object — about
// 0.4 µs a request, more than the gateway's own routing. These objects have the
// shape prom-client's Registry reads (name, help, type, aggregator, get()), so
// /metrics, its text format and the cluster aggregation across workers are
// prom-client's, unchanged.

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
  type: 'counter' | 'histogram';
  aggregator: 'sum';
  values: Sample[];
}

interface MetricLike {
  readonly name: string;
  readonly help: string;
  readonly type: MetricSnapshot['type'];
  readonly aggregator: 'sum';
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
