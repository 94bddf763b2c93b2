// /metrics of a multi-worker instance: every live worker's registry summed,
// plus what workers that died had counted, plus the primary's own metrics —
// each family once (one HELP/TYPE pair), as the exposition format requires.
//
// A counter must never go backwards (Prometheus reads a drop as a restart of
// the whole target). So the primary keeps each worker's last values (fresh at
// every scrape, and pushed by the worker every PUSH_INTERVAL_MS (messages.ts) between
// scrapes); when a worker dies, its counters and histograms are folded into a
// "retired" set that every later scrape adds. Its gauges (memory, event loop)
// die with it: they describe a process that no longer exists.
import type { Worker } from 'node:cluster';
import { AggregatorRegistry, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import type { ToPrimary } from './messages.ts';

type MetricsJson = MetricObjectWithValues<MetricValue<string>>[];

const ASK_TIMEOUT_MS = 2000;

export class WorkerMetrics {
  private last = new Map<number, MetricsJson>();
  /** What dead workers counted, one set per worker, folded into one at the next scrape. */
  private retired: MetricsJson[] = [];
  private asked = 0;

  /** A message from a worker: its registry as JSON, pushed or answering a scrape. */
  update(worker: Worker, m: Extract<ToPrimary, { type: 'metrics' }>): void {
    this.last.set(worker.id, m.metrics as MetricsJson);
  }

  /** A worker died: keep what it counted. */
  retire(worker: Worker): void {
    const last = this.last.get(worker.id);
    this.last.delete(worker.id);
    if (!last) return;
    this.retired.push(last.filter((m) => String(m.type) === 'counter' || String(m.type) === 'histogram'));
  }

  /** The whole exposition: live workers (asked now; their last values if they do not answer), retired, and the primary's registry. */
  async text(workers: readonly Worker[], own: Registry): Promise<string> {
    await Promise.all(workers.map((w) => this.ask(w)));
    if (this.retired.length > 1) this.retired = [(await AggregatorRegistry.aggregate(this.retired).getMetricsAsJSON()) as MetricsJson];
    const summed = AggregatorRegistry.aggregate([...this.last.values(), ...this.retired]) as Registry;
    // Registry.merge refuses two metrics of one name: the primary's registry holds only families the workers do not have.
    return Registry.merge([summed, own]).metrics();
  }

  private ask(w: Worker): Promise<void> {
    if (!w.isConnected()) return Promise.resolve();
    const id = ++this.asked;
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        w.off('message', onMessage);
        w.off('exit', done);
        resolve();
      };
      const onMessage = (m: ToPrimary) => {
        if (m.type === 'metrics' && m.requestId === id) done();
      };
      const timer = setTimeout(done, ASK_TIMEOUT_MS);
      w.on('message', onMessage);
      w.once('exit', done);
      w.send({ type: 'metrics', requestId: id });
    });
  }
}
