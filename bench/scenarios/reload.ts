// Reload of the large configuration while the gateway is under load: how long
// from the moment the new file is in place until the admin /config shows the
// new version (the target), and until the data plane answers with it; and not
// one failed request meanwhile.
import { renameSync, writeFileSync } from 'node:fs';
import { checkOnce, responseExpectation } from '../check.ts';
import { GENERATION_HEADER, manyRoutesConfig, type Probe } from '../config-gen.ts';
import { loadSpec, type BenchContext } from '../context.ts';
import type { Gateway } from '../gateway.ts';
import type { LoadResult } from '../load/types.ts';
import { sleep } from '../net.ts';

export interface ReloadMeasurement {
  generation: number;
  /** File in place → /config shows a new version (to within 10 ms, see CONFIG_POLL_MS). null: not within the timeout. */
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
/** The data plane probe is one small request: cheap to repeat often. */
const DATA_PLANE_POLL_MS = 5;
/**
 * The admin's /config/version answers the version alone, cheap to poll; 10 ms
 * keeps the measurement within 10 ms without adding load to the reload timed.
 * It is also polled at once when the data plane starts answering with the new generation.
 */
const CONFIG_POLL_MS = 10;

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

interface Observed {
  configAt?: number;
  dataPlaneAt?: number;
  wrongAnswer?: string;
}

/** Watches both signals of one reload until both are seen or time runs out. */
async function observe(gw: Gateway, before: string, probe: Probe, generation: number, t0: number): Promise<Observed> {
  const seen: Observed = {};
  const deadline = t0 + OBSERVE_TIMEOUT_MS;
  let lastConfigPoll = -Infinity;
  while (performance.now() < deadline && (seen.configAt === undefined || seen.dataPlaneAt === undefined)) {
    let flipped = false;
    if (seen.dataPlaneAt === undefined) {
      const r = await checkOnce(gw.baseUrl, probe);
      if (r.headers?.[GENERATION_HEADER] === String(generation)) {
        seen.dataPlaneAt = performance.now();
        flipped = true;
        if (!r.ok) seen.wrongAnswer = r.detail;
      }
    }
    if (seen.configAt === undefined && (flipped || performance.now() - lastConfigPoll >= CONFIG_POLL_MS)) {
      lastConfigPoll = performance.now();
      const version = await gw.configVersion().catch(() => before);
      if (version !== before) seen.configAt = performance.now();
    }
    await sleep(DATA_PLANE_POLL_MS);
  }
  return seen;
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
    // Every response checked (route, upstream, body), except the generation it carries.
    .run({ ...loadSpec(ctx, gw, loadSec), verify: responseExpectation(gw.probe, [GENERATION_HEADER]) })
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
      const seen = await observe(gw, before, next.probe, generation, t0);
      m.configMs = seen.configAt === undefined ? null : seen.configAt - t0;
      m.dataPlaneMs = seen.dataPlaneAt === undefined ? null : seen.dataPlaneAt - t0;
      m.underLoad = loadRunning;
      if (m.configMs === null) m.error = `/config version did not change within ${OBSERVE_TIMEOUT_MS} ms`;
      else if (m.dataPlaneMs === null) m.error = `the data plane did not serve generation ${generation} within ${OBSERVE_TIMEOUT_MS} ms`;
      else if (seen.wrongAnswer) m.error = `the new configuration answers wrongly: ${seen.wrongAnswer}`;
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
