// One process serving everything: config controller, data plane and admin.
import type http from 'node:http';
import type { Logger } from 'pino';
import { DataPlane } from '../dataplane/dataplane.ts';
import { Metrics } from '../admin/metrics.ts';
import { createAccessLogger, createLogger } from '../log/logger.ts';
import { ConfigController } from './config-controller.ts';
import { formatError } from '../resources/errors.ts';
import { firstSnapshot, openAdmin, startupWarnings, StartupError } from './startup.ts';
import type { RunOptions } from './options.ts';
import { closeGlobalCounters, configureRedis } from '../state/registry.ts';
import { startManagement, adminRoutes, type Management } from './management.ts';
import { version } from './version.ts';

export interface Instance {
  dataplane: DataPlane;
  admin: http.Server;
  log: Logger;
  /** Rebuild and apply now (what --watch does on a change). */
  reload(): Promise<boolean>;
  close(): Promise<void>;
}

export { StartupError } from './startup.ts';

export async function startSingle(opts: RunOptions): Promise<Instance> {
  const log = createLogger(opts.logLevel);
  const metrics = new Metrics();
  configureRedis(opts.redis, (msg, err) => log.error({ err }, msg));
  const dataplane = new DataPlane({
    bind: opts.translate.bindAddress,
    reusePort: false,
    log,
    access: createAccessLogger(opts.accessLog),
    metrics: metrics.dataPlane,
    onListening: (addr, proto) => opts.print(`listening on ${proto === 'HTTPS' ? 'https' : 'http'}://${addr}`),
  });
  let mg: Management | undefined;
  const config = new ConfigController(opts.paths, opts.translate, () => mg?.resources() ?? []);
  if (opts.management) {
    mg = await startManagement(opts.management, version(), log, () => config.changed());
    config.afterBuild = (r) => mg!.built(r, config.fileResources);
  }
  const fail = async (err: StartupError) => {
    await mg?.close();
    return err;
  };
  let first = await config.build();
  if (!first.snapshot && mg && mg.resources().length > 0) {
    // Stored objects the translator rejects must not keep the instance from starting (the API is how they get fixed).
    log.error({ errors: first.errors.map(formatError) }, 'the stored objects are rejected; serving the files alone until they are fixed');
    first = await config.build(false);
  }
  let snapshot;
  try {
    snapshot = firstSnapshot(first);
  } catch (err) {
    config.report(first);
    throw await fail(err as StartupError);
  }
  // The admin listener opens first: a port it cannot have stops the start before any listener serves.
  const admin = await openAdmin(opts.admin.host, opts.admin.port, {
    routes: mg ? adminRoutes(mg) : undefined,
    tls: mg?.tls,
    ready: () => dataplane.current !== undefined,
    snapshot: () => dataplane.current?.ir,
    lastReload: () => config.last,
    metrics: async () => ({ contentType: metrics.registry.contentType, body: await metrics.registry.metrics() }),
  }).catch(async (err: StartupError) => { throw await fail(err); });
  try {
    await dataplane.apply(snapshot);
  } catch (err) {
    admin.close();
    await dataplane.shutdown(0);
    throw await fail(new StartupError((err as Error).message, []));
  }
  for (const w of startupWarnings(snapshot, first.resources.map((r) => r.resource.kind))) log.warn(w);
  config.served(first, metrics.reloads, log);

  const reload = () => config.reload(dataplane.current?.version, (snap) => dataplane.apply(snap), metrics.reloads, log);
  if (opts.watch) await config.watch(async () => void (await reload()));
  else config.setOnChange(async () => void (await reload()));

  const aa = admin.address();
  if (aa && typeof aa === 'object') opts.print(`admin on http://${aa.address}:${aa.port}`);
  if (mg && aa && typeof aa === 'object') {
    const kubeconfig = mg.listening(aa);
    opts.print(`management API on https://${aa.address}:${aa.port}${kubeconfig ? ` (kubectl --kubeconfig ${kubeconfig})` : ''}`);
  }

  return {
    dataplane,
    admin,
    log,
    reload: () => {
      config.reloadFiles();
      return reload();
    },
    async close() {
      config.close();
      await mg?.close();
      admin.close();
      admin.closeAllConnections();
      await dataplane.shutdown(opts.drainMs);
      await closeGlobalCounters();
    },
  };
}
