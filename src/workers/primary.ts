// The primary of a multi-worker instance: reads, validates and translates the
// configuration once, hands the same snapshot to every worker (all or none),
// serves the admin listener, and replaces workers that die.
//
// Mechanism: node:cluster workers that each bind their own socket with
// SO_REUSEPORT (listen({ reusePort, exclusive })). The kernel spreads new
// connections across workers with no hop through the primary, which node's
// default round-robin cluster mode would add to every connection.
import cluster, { type Worker } from 'node:cluster';
import { fileURLToPath } from 'node:url';
import { WorkerMetrics } from './metrics-aggregate.ts';
import type { Snapshot } from '../ir/types.ts';
import { Metrics } from '../admin/metrics.ts';
import { createLogger } from '../log/logger.ts';
import { ConfigController } from '../runtime/config-controller.ts';
import { formatError } from '../resources/errors.ts';
import { firstSnapshot, openAdmin, startupWarnings, StartupError } from '../runtime/startup.ts';
import type { RunOptions } from '../runtime/options.ts';
import { startLeaseCoordinator } from '../state/registry.ts';
import { startManagement, adminRoutes, type Management } from '../runtime/management.ts';
import { version } from '../runtime/version.ts';
import { workerCompileCacheEnv } from './compile-cache.ts';
import { WORKER_ENV, type ToPrimary, type ToWorker, type WorkerSettings } from './messages.ts';

const PREPARE_TIMEOUT_MS = 15_000;

export async function startPrimary(opts: RunOptions): Promise<() => Promise<void>> {
  const log = createLogger(opts.logLevel);
  // The primary serves no request: its registry holds only what it alone counts (reloads).
  const metrics = new Metrics({ processMetrics: false, requestMetrics: false });
  const fromWorkers = new WorkerMetrics();
  let mg: Management | undefined;
  const config = new ConfigController(opts.paths, opts.translate, () => mg?.resources() ?? []);
  if (opts.management) {
    mg = await startManagement(opts.management, version(), log, () => config.changed());
    config.afterBuild = (r) => mg!.built(r, config.fileResources);
  }
  const settings: WorkerSettings = { bind: opts.translate.bindAddress, logLevel: opts.logLevel, accessLog: opts.accessLog, redis: opts.redis, workers: opts.workers };
  const leases = startLeaseCoordinator();
  cluster.setupPrimary({ exec: fileURLToPath(new URL('./worker-main.ts', import.meta.url)), silent: false });

  let current: Snapshot | undefined;
  let stopping = false;
  const printed = new Set<string>();
  const workers = new Set<Worker>();

  let first = await config.build();
  if (!first.snapshot && mg && mg.resources().length > 0) {
    // Stored objects the translator rejects must not keep the instance from starting (the API is how they get fixed).
    log.error({ errors: first.errors.map(formatError) }, 'the stored objects are rejected; serving the files alone until they are fixed');
    first = await config.build(false);
  }
  let firstSnap: Snapshot;
  try {
    firstSnap = firstSnapshot(first);
  } catch (err) {
    config.report(first);
    await mg?.close();
    throw err;
  }
  // The admin listener opens before any worker starts: a port it cannot have stops the start cleanly.
  const admin = await openAdmin(opts.admin.host, opts.admin.port, {
    routes: mg ? adminRoutes(mg) : undefined,
    tls: mg?.tls,
    ready: () => current !== undefined && workers.size > 0,
    snapshot: () => current,
    lastReload: () => config.last,
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await fromWorkers.text([...workers], metrics.registry) }),
  }).catch(async (err: unknown) => {
    await mg?.close();
    throw err;
  });

  const cacheEnv = await workerCompileCacheEnv();
  const fork = (): Worker => {
    const w = cluster.fork({ [WORKER_ENV]: JSON.stringify(settings), ...cacheEnv });
    workers.add(w);
    leases.serve(w);
    w.on('message', (m: ToPrimary) => {
      if (m.type === 'metrics') fromWorkers.update(w, m);
      if (m.type === 'listening' && !printed.has(m.address)) {
        printed.add(m.address);
        opts.print(`listening on ${m.protocol === 'HTTPS' ? 'https' : 'http'}://${m.address}`);
      }
    });
    return w;
  };

  /** Prepare on every worker, then commit on all — or abort on all. */
  const distribute = async (snap: Snapshot, targets: Worker[]): Promise<string | undefined> => {
    const results = await Promise.all(targets.map((w) => ask(w, { type: 'prepare', snapshot: snap }, snap.version)));
    const failed = results.find((r) => r !== undefined);
    for (const w of targets) send(w, failed ? { type: 'abort', version: snap.version } : { type: 'commit', version: snap.version });
    return failed;
  };

  cluster.on('exit', (w, code, signal) => {
    workers.delete(w);
    fromWorkers.retire(w);
    if (stopping) return;
    log.error({ worker: w.id, code, signal }, 'worker exited; starting a replacement');
    const replacement = fork();
    replacement.once('online', () => {
      if (current) void distribute(current, [replacement]).then((err) => err && log.error({ err }, 'replacement worker could not serve the configuration'));
    });
  });

  const initial = Array.from({ length: opts.workers }, fork);
  await Promise.all(initial.map((w) => new Promise<void>((resolve) => w.once('online', () => resolve()))));
  const err = await distribute(firstSnap, initial);
  if (err) {
    stopping = true;
    admin.close();
    await stopWorkers([...workers], 0);
    await mg?.close();
    // Every worker fails alike at startup: one line, as with --workers 1.
    throw new StartupError(err.replace(/^worker \d+: /, ''), []);
  }
  current = firstSnap;
  for (const w of startupWarnings(firstSnap, first.resources.map((r) => r.resource.kind))) log.warn(w);
  config.served(first, metrics.reloads, log);

  // A worker that cannot serve the new snapshot makes every worker keep the previous one.
  const serveOnAll = async (snap: Snapshot) => {
    const failure = await distribute(snap, [...workers]);
    if (failure) throw new Error(failure);
    current = snap;
  };
  const reload = async () => void (await config.reload(current?.version, serveOnAll, metrics.reloads, log));
  if (opts.watch) await config.watch(reload);
  else config.setOnChange(reload);

  const aa = admin.address();
  if (aa && typeof aa === 'object') opts.print(`admin on http://${aa.address}:${aa.port} (${opts.workers} workers)`);
  if (mg && aa && typeof aa === 'object') {
    const kubeconfig = mg.listening(aa);
    opts.print(`management API on https://${aa.address}:${aa.port}${kubeconfig ? ` (kubectl --kubeconfig ${kubeconfig})` : ''}`);
  }

  return async () => {
    stopping = true;
    config.close();
    await mg?.close();
    admin.close();
    admin.closeAllConnections();
    await stopWorkers([...workers], opts.drainMs);
  };
}

/** Drain workers (they ignore signals sent to the process group) and wait for them to exit; SIGKILL past the deadline. */
async function stopWorkers(list: Worker[], drainMs: number): Promise<void> {
  const exits = list.map((w) => new Promise<void>((resolve) => (w.isDead() ? resolve() : w.once('exit', () => resolve()))));
  for (const w of list) send(w, { type: 'drain', deadlineMs: drainMs });
  const hard = setTimeout(() => { for (const w of list) if (!w.isDead()) w.process.kill('SIGKILL'); }, drainMs + 2000);
  await Promise.all(exits);
  clearTimeout(hard);
}

function send(w: Worker, m: ToWorker): void {
  if (w.isConnected()) w.send(m);
}

/** Ask a worker to prepare a snapshot; resolves undefined on success, else the reason. */
function ask(w: Worker, m: ToWorker, version: string): Promise<string | undefined> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(`worker ${w.id} did not answer within ${PREPARE_TIMEOUT_MS} ms`), PREPARE_TIMEOUT_MS);
    const onMessage = (r: ToPrimary) => {
      if ((r.type === 'prepared' || r.type === 'failed') && r.version === version) done(r.type === 'failed' ? `worker ${w.id}: ${r.error}` : undefined);
    };
    const onExit = () => done(`worker ${w.id} exited`);
    const done = (result: string | undefined) => {
      clearTimeout(timer);
      w.off('message', onMessage);
      w.off('exit', onExit);
      resolve(result);
    };
    w.on('message', onMessage);
    w.once('exit', onExit);
    send(w, m);
  });
}
