// Prometheus metrics (prom-client). Per-request updates go through label
// children cached per route and status, so the hot path does no label hashing.
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'route' | 'status'>;
  readonly duration: Histogram<'route'>;
  readonly upstreamErrors: Counter<'backend' | 'kind'>;
  readonly reloads: Counter<'result'>;
  private requestChildren = new Map<string, Map<number, Counter.Internal>>();
  private durationChildren = new Map<string, Histogram.Internal<'route'>>();

  constructor(opts: { processMetrics: boolean; reloads?: boolean } = { processMetrics: true }) {
    const registers = [this.registry];
    this.requests = new Counter({ name: 'portcullis_requests_total', help: 'Requests answered, by route and status', labelNames: ['route', 'status'], registers });
    this.duration = new Histogram({ name: 'portcullis_request_duration_seconds', help: 'Time from request to response end, by route', labelNames: ['route'], buckets: BUCKETS, registers });
    this.upstreamErrors = new Counter({ name: 'portcullis_upstream_errors_total', help: 'Upstream failures, by backend and kind (connect, reset, timeout, no_endpoint)', labelNames: ['backend', 'kind'], registers });
    // Workers do not reload by themselves; only the process that reads the configuration counts reloads.
    this.reloads = new Counter({ name: 'portcullis_config_reloads_total', help: 'Configuration reloads, by result (success, failure)', labelNames: ['result'], registers: opts.reloads === false ? [] : registers });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
  }

  observeRequest(route: string, status: number, seconds: number): void {
    let byStatus = this.requestChildren.get(route);
    if (!byStatus) this.requestChildren.set(route, (byStatus = new Map()));
    let c = byStatus.get(status);
    if (!c) byStatus.set(status, (c = this.requests.labels(route, String(status))));
    c.inc();
    let h = this.durationChildren.get(route);
    if (!h) this.durationChildren.set(route, (h = this.duration.labels(route)));
    h.observe(seconds);
  }
}
