// Reload of the large configuration while the gateway is under load: how long
// from the moment the new file is in place until the admin /config shows the
// new version (the target), and until the data plane answers with it; and not
// one failed request meanwhile.
import { renameSync, writeFileSync } from 'node:fs';
import { checkOnce } from '../check.ts';
import { GENERATION_HEADER, manyRoutesConfig } from '../config-gen.ts';
import { loadSpec, type BenchContext } from '../context.ts';
import type { Gateway } from '../gateway.ts';
import type { LoadResult } from '../load/types.ts';
import { sleep } from '../net.ts';

export interface ReloadMeasurement {
  generation: number;
  /** File in place → /config shows a new version. null: not within the timeout. */
  configMs: number | null;
  /** File in place → the probe is answered with the new generation's header. */
  dataPlaneMs: number | null;
  /** Whether the load was still running when the reload was seen (else it did not happen under load). */
  underLoad: boolean;
  error?: string;
}

export interface ReloadOutcome {
  reloads: ReloadMeasurement[];
  load: LoadResult | undefined;
  loadFailure?: string;
}

const OBSERVE_TIMEOUT_MS = 10_000;
const POLL_MS = 10;

/** Replaces the config file the way a deploy would: atomically (default), or rewritten in place. */
export function writeConfig(path: string, yaml: string, how: 'rename' | 'inplace'): void {
  if (how === 'inplace') {
    writeFileSync(path, yaml);
    return;
  }
  const tmp = `${path}.tmp-${process.pid}`;
  writeFileSync(tmp, yaml);
  renameSync(tmp, path);
}

async function until<T>(probe: () => Promise<T | undefined>, deadline: number): Promise<T | undefined> {
  while (performance.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(POLL_MS);
  }
  return undefined;
}

export async function measureReloads(
  ctx: BenchContext,
  gw: Gateway,
  configFile: string,
  gatewayPort: number,
): Promise<ReloadOutcome> {
  const reloads: ReloadMeasurement[] = [];
  // Long enough to cover every reload (each is observed within ~1 s when it works).
  const loadSec = Math.max(ctx.opts.durationSec, 3 + 2 * ctx.opts.reloads);
  let loadRunning = true;
  let loadFailure: string | undefined;
  const loadDone = ctx.load
    .run(loadSpec(ctx, gw, loadSec))
    .catch((err: Error) => {
      loadFailure = err.message;
      return undefined;
    })
    .finally(() => {
      loadRunning = false;
    });
  await sleep(1000); // load established before the first reload
  for (let generation = 1; generation <= ctx.opts.reloads && loadRunning; generation++) {
    const next = manyRoutesConfig(gatewayPort, ctx.upstream.ports, ctx.opts.routes, generation);
    const m: ReloadMeasurement = { generation, configMs: null, dataPlaneMs: null, underLoad: false };
    try {
      const before = await gw.configVersion();
      writeConfig(configFile, next.yaml, ctx.opts.reloadWrite);
      const t0 = performance.now();
      const deadline = t0 + OBSERVE_TIMEOUT_MS;
      const seen = await until(async () => ((await gw.configVersion()) !== before ? performance.now() : undefined), deadline);
      if (seen !== undefined) m.configMs = seen - t0;
      const served = await until(async () => {
        const r = await checkOnce(gw.baseUrl, next.probe);
        return r.headers?.[GENERATION_HEADER] === String(generation) ? { at: performance.now(), r } : undefined;
      }, deadline);
      if (served) {
        m.dataPlaneMs = served.at - t0;
        if (!served.r.ok) m.error = `new config answers wrongly: ${served.r.detail}`;
      }
      m.underLoad = loadRunning;
      if (m.configMs === null) m.error = `/config version did not change within ${OBSERVE_TIMEOUT_MS} ms`;
      else if (m.dataPlaneMs === null) m.error = `the data plane did not serve generation ${generation} within ${OBSERVE_TIMEOUT_MS} ms`;
    } catch (err) {
      m.error = (err as Error).message;
    }
    reloads.push(m);
    ctx.log(`  reload ${generation}: /config ${fmt(m.configMs)}, data plane ${fmt(m.dataPlaneMs)}${m.error ? ` — ${m.error}` : ''}`);
    if (m.configMs === null) break; // a watcher that missed one will miss the next
    await sleep(500);
  }
  const load = await loadDone;
  return { reloads, load, loadFailure };
}

function fmt(ms: number | null): string {
  return ms === null ? 'not seen' : `${Math.round(ms)} ms`;
}
