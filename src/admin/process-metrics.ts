// The process metrics a worker reports without prom-client: the families of
// prom-client's collectDefaultMetrics that say whether a worker is healthy
// (CPU, memory, event-loop delay), under the same names, so that dashboards
// read the same series with --workers N as with one process.
import { monitorEventLoopDelay } from 'node:perf_hooks';
type EventLoopDelay = ReturnType<typeof monitorEventLoopDelay>;
import type { MetricLike, MetricSnapshot, Sample } from './request-metrics.ts';

const PREFIX = 'portcullis_';

type Read = () => number;

/** One unlabelled series read at scrape time. */
class ReadOut implements MetricLike {
  readonly name: string;
  readonly help: string;
  readonly type: 'counter' | 'gauge';
  readonly aggregator: MetricSnapshot['aggregator'];
  private read: Read;

  constructor(name: string, help: string, type: 'counter' | 'gauge', aggregator: MetricSnapshot['aggregator'], read: Read) {
    this.name = PREFIX + name;
    this.help = help;
    this.type = type;
    this.aggregator = aggregator;
    this.read = read;
  }

  async get(): Promise<MetricSnapshot> {
    const values: Sample[] = [{ labels: {}, value: this.read() }];
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values };
  }

  reset(): void {}
}

/** The families, read from process.cpuUsage/memoryUsage and one event-loop delay histogram (its sampling timer is unref'd). */
export function processMetrics(): MetricLike[] {
  const startSeconds = Math.round(Date.now() / 1000 - process.uptime());
  const loop: EventLoopDelay = monitorEventLoopDelay({ resolution: 10 });
  loop.enable();
  const cpu = (part: 'user' | 'system' | 'total'): Read => () => {
    const u = process.cpuUsage();
    return (part === 'user' ? u.user : part === 'system' ? u.system : u.user + u.system) / 1e6;
  };
  const lag = (read: (h: EventLoopDelay) => number): Read => () => (Number.isFinite(read(loop)) ? read(loop) / 1e9 : 0);
  return [
    new ReadOut('process_cpu_user_seconds_total', 'Total user CPU time spent in seconds.', 'counter', 'sum', cpu('user')),
    new ReadOut('process_cpu_system_seconds_total', 'Total system CPU time spent in seconds.', 'counter', 'sum', cpu('system')),
    new ReadOut('process_cpu_seconds_total', 'Total user and system CPU time spent in seconds.', 'counter', 'sum', cpu('total')),
    new ReadOut('process_start_time_seconds', 'Start time of the process since unix epoch in seconds.', 'gauge', 'omit', () => startSeconds),
    new ReadOut('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', 'sum', () => process.memoryUsage.rss()),
    new ReadOut('nodejs_heap_size_total_bytes', 'Process heap size from Node.js in bytes.', 'gauge', 'sum', () => process.memoryUsage().heapTotal),
    new ReadOut('nodejs_heap_size_used_bytes', 'Process heap size used from Node.js in bytes.', 'gauge', 'sum', () => process.memoryUsage().heapUsed),
    new ReadOut('nodejs_external_memory_bytes', 'Node.js external memory size in bytes.', 'gauge', 'sum', () => process.memoryUsage().external),
    new ReadOut('nodejs_eventloop_lag_mean_seconds', 'The mean of the recorded event loop delays.', 'gauge', 'average', lag((h) => h.mean)),
    new ReadOut('nodejs_eventloop_lag_p99_seconds', 'The 99th percentile of the recorded event loop delays.', 'gauge', 'average', lag((h) => h.percentile(99))),
    new ReadOut('nodejs_eventloop_lag_max_seconds', 'The maximum recorded event loop delay.', 'gauge', 'max', lag((h) => h.max)),
  ];
}
