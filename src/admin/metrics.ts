// Prometheus metrics (prom-client). The two per-request ones are plain
// accumulators read at scrape time (see request-metrics.ts).
import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { RouteHistogram, RouteStatusCounter } from './request-metrics.ts';
import { stateStats } from '../state/registry.ts';

const BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Metrics {
  readonly registry = new Registry();
  readonly requests: RouteStatusCounter;
  readonly duration: RouteHistogram;
  readonly upstreamErrors: Counter<'backend' | 'kind'>;
  readonly reloads: Counter<'result'>;
  readonly dryRunDecisions: Counter<'policy' | 'decision'>;

  constructor(opts: { processMetrics: boolean; reloads?: boolean; requestMetrics?: boolean } = { processMetrics: true }) {
    const registers = [this.registry];
    // A process that serves no request (the primary of --workers N) must not print empty families the workers print too.
    const requestRegisters = opts.requestMetrics === false ? [] : registers;
    this.requests = new RouteStatusCounter('portcullis_requests_total', 'Requests answered, by route and status');
    this.duration = new RouteHistogram('portcullis_request_duration_seconds', 'Time from request to response end, by route', BUCKETS);
    // prom-client's Registry reads only name, help, type, aggregator and get() of these.
    if (opts.requestMetrics !== false) {
      this.registry.registerMetric(this.requests as unknown as Metric);
      this.registry.registerMetric(this.duration as unknown as Metric);
    }
    this.upstreamErrors = new Counter({ name: 'portcullis_upstream_errors_total', help: 'Upstream failures, by backend and kind (connect, reset, timeout, no_endpoint)', labelNames: ['backend', 'kind'], registers: requestRegisters });
    this.dryRunDecisions = new Counter({ name: 'portcullis_dry_run_decisions_total', help: 'Would-be decisions of dry-run (istio.io/dry-run) policies, never enforced, by policy and decision', labelNames: ['policy', 'decision'], registers: requestRegisters });
    // Workers do not reload by themselves; only the process that reads the configuration counts reloads.
    this.reloads = new Counter({ name: 'portcullis_config_reloads_total', help: 'Configuration reloads, by result (success, failure)', labelNames: ['result'], registers: opts.reloads === false ? [] : registers });
    // Rate-limit state (src/state): read from the process-wide stores at scrape time.
    new Counter({
      name: 'portcullis_ratelimit_store_errors_total',
      help: 'Global rate-limit decisions made without Redis, by failure mode (open: admitted, closed: refused)',
      labelNames: ['mode'],
      registers: requestRegisters,
      collect() {
        const s = stateStats();
        this.reset();
        if (s.failOpen > 0) this.inc({ mode: 'open' }, s.failOpen);
        if (s.failClosed > 0) this.inc({ mode: 'closed' }, s.failClosed);
      },
    });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
  }

  observeRequest(route: string, status: number, seconds: number): void {
    this.requests.inc(route, status);
    this.duration.observe(route, seconds);
  }
}
