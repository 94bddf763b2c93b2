// A worker process: a data plane that serves the snapshots the primary sends.
// It never reads configuration itself, so every worker serves the same one.
import cluster from 'node:cluster';
import { DataPlane, type PreparedSnapshot } from '../dataplane/dataplane.ts';
import { DataPlaneMetrics } from '../admin/request-metrics.ts';
import { processMetrics } from '../admin/process-metrics.ts';
import { createAccessLogger, createLogger, type LogLevel } from '../log/logger.ts';
import { closeGlobalCounters, configureRedis, useLeasedCounters } from '../state/registry.ts';
import { PUSH_INTERVAL_MS, WORKER_ENV, type ToPrimary, type ToWorker, type WorkerSettings } from './messages.ts';

export function runWorker(): void {
  const settings = JSON.parse(process.env[WORKER_ENV] ?? '{}') as WorkerSettings;
  const log = createLogger(settings.logLevel as LogLevel).child({ worker: cluster.worker?.id });
  // No prom-client here: the worker's families are plain numbers the primary's prom-client sums.
  const metrics = new DataPlaneMetrics();
  const processFamilies = processMetrics();
  // Local rate limits: one budget per instance, leased from the primary (docs/state.md).
  useLeasedCounters(settings.workers ?? 1);
  configureRedis(settings.redis, (msg, err) => log.error({ err }, msg));
  // After the primary is gone the channel is closed: nothing to tell it.
  const send = (m: ToPrimary) => { if (process.connected) process.send?.(m); };
  // The primary's /metrics sums every worker's registry; the periodic push is
  // what it keeps of this worker's counters should the worker die between scrapes.
  const sendMetrics = (requestId: number) =>
    void Promise.all([metrics.snapshot(), ...processFamilies.map((f) => f.get())])
      .then(([own, ...proc]) => send({ type: 'metrics', requestId, metrics: [...own, ...proc] }), () => {});
  setInterval(() => sendMetrics(0), PUSH_INTERVAL_MS).unref();
  const dp = new DataPlane({
    bind: settings.bind,
    reusePort: true,
    log,
    access: createAccessLogger(settings.accessLog),
    metrics,
    onListening: (address, protocol) => send({ type: 'listening', address, protocol }),
  });
  const prepared = new Map<string, PreparedSnapshot>();
  process.on('message', (m: ToWorker) => {
    switch (m.type) {
      case 'prepare':
        dp.prepare(m.snapshot).then(
          (p) => {
            prepared.set(p.version, p);
            send({ type: 'prepared', version: p.version });
          },
          (err: Error) => send({ type: 'failed', version: m.snapshot.version, error: err.message }),
        );
        return;
      case 'commit':
        prepared.get(m.version)?.commit();
        prepared.delete(m.version);
        send({ type: 'committed', version: m.version });
        return;
      case 'abort':
        void prepared.get(m.version)?.abort();
        prepared.delete(m.version);
        return;
      case 'metrics':
        sendMetrics(m.requestId);
        return;
      case 'drain':
        dp.shutdown(m.deadlineMs).then(closeGlobalCounters).finally(() => process.exit(0));
        return;
    }
  });
  // The primary decides when to stop; a signal to the whole process group must not cut requests short.
  process.on('SIGTERM', () => {});
  process.on('SIGINT', () => {});
}
