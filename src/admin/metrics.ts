// Prometheus metrics (prom-client) of a process that serves /metrics itself:
// one process without workers, or the primary of --workers N. The data plane's
// own counters are plain accumulators (request-metrics.ts) registered here.
import { Counter, Registry, collectDefaultMetrics, type Metric } from 'prom-client';
import { DataPlaneMetrics } from './request-metrics.ts';

export class Metrics {
  readonly registry = new Registry();
  /** What the data plane of this process counts (also there, unregistered, in a primary that serves no request). */
  readonly dataPlane = new DataPlaneMetrics();
  readonly reloads: Counter<'result'>;

  constructor(opts: { processMetrics: boolean; requestMetrics?: boolean } = { processMetrics: true }) {
    // A process that serves no request (the primary of --workers N) must not print empty families the workers print too.
    // prom-client's Registry reads only name, help, type, aggregator and get() of these.
    if (opts.requestMetrics !== false) for (const f of this.dataPlane.families) this.registry.registerMetric(f as unknown as Metric);
    this.reloads = new Counter({ name: 'portcullis_config_reloads_total', help: 'Configuration reloads, by result (success, failure)', labelNames: ['result'], registers: [this.registry] });
    if (opts.processMetrics) collectDefaultMetrics({ register: this.registry, prefix: 'portcullis_' });
  }
}
