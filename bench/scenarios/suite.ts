// The scenarios of `npm run bench`: which systems each one starts, what is
// compared with what, and the verdict against the target.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkOnce, verificationProblem } from '../check.ts';
import { manyRoutesConfig, plainConfig, type GeneratedConfig } from '../config-gen.ts';
import type { BenchContext } from '../context.ts';
import { startGateway, type Gateway } from '../gateway.ts';
import { freePort } from '../net.ts';
import { startNginx } from '../nginx.ts';
import { startBareProxy, upstreamDirect } from '../references.ts';
import {
  ADDED_P99_TARGET_MS, RELOAD_TARGET_MS, THROUGHPUT_TARGET, throughputVerdict,
  type LatencyScenario, type MemoryScenario, type ReloadScenario, type ScenarioResult, type ThroughputScenario, type Verdict,
} from '../results.ts';
import { median, ratio } from '../stats.ts';
import type { LoadResult } from '../load/types.ts';
import type { System } from '../system.ts';
import { measureLatency } from './latency.ts';
import { measureReloads } from './reload.ts';
import { measureThroughput, type Contender } from './throughput.ts';

export const TARGET_RATIO = `≥ ${THROUGHPUT_TARGET.toFixed(2)}×`;

export function gatewayName(ctx: BenchContext): string {
  return ctx.opts.standIn ? 'stand-in' : 'portcullis';
}

export async function writeAndStart(ctx: BenchContext, file: string, make: (port: number) => GeneratedConfig, workers: number, watch: boolean, extraArgs: string[] = []): Promise<{ gw: Gateway; config: GeneratedConfig; port: number; path: string }> {
  const port = await freePort();
  const config = make(port);
  const path = join(ctx.workdir, file);
  writeFileSync(path, config.yaml);
  const gw = await startGateway({ configFile: path, port, workers, watch, probe: config.probe, standIn: ctx.opts.standIn, extraArgs });
  return { gw, config, port, path };
}

export function errorScenario(id: string, title: string, target: string, err: unknown): ScenarioResult {
  const message = err instanceof Error ? err.message : String(err);
  return { kind: 'error', id, title, target, verdict: 'FAIL', notes: [message.split('\n')[0]], error: message };
}

/** "1 worker, one plain route" (+ the latency scenario) or "2 workers, one plain route". */
export async function plainScenarios(ctx: BenchContext, workers: 1 | 2, latency: boolean): Promise<ScenarioResult[]> {
  const id = workers === 1 ? 'plain1' : 'plain2';
  const title = `${workers} worker${workers > 1 ? 's' : ''}, one plain route`;
  const refName = workers === 1 ? 'bare proxy (1 process)' : `bare proxy (node:cluster, ${workers} processes)`;
  const started: System[] = [];
  const out: ScenarioResult[] = [];
  try {
    ctx.log(`\n▶ ${title}`);
    const { gw, config } = await writeAndStart(ctx, `plain-${workers}.yaml`, (p) => plainConfig(p, ctx.upstream.ports), workers, false);
    started.push(gw);
    const bare = await startBareProxy(ctx.upstream.ports.target, workers, config.probe);
    started.push(bare);
    const contenders: Contender[] = [{ name: gatewayName(ctx), system: gw }, { name: refName, system: bare }];
    if (ctx.nginxPath) {
      const nginx = await startNginx(ctx.nginxPath, ctx.upstream.ports.target, workers, config.probe);
      started.push(nginx);
      contenders.push({ name: `nginx (${workers} worker${workers > 1 ? 's' : ''})`, system: nginx });
    }
    if (workers === 1) contenders.push({ name: 'upstream direct', system: upstreamDirect(ctx.upstream, config.probe) });
    const measured = await measureThroughput(ctx, contenders);
    const subject = measured.get(gatewayName(ctx));
    const reference = measured.get(refName);
    const r = ratio(subject?.medianRps ?? null, reference?.medianRps ?? null);
    const { verdict, notes } = throughputVerdict(subject, reference, r);
    const scenario: ThroughputScenario = {
      kind: 'throughput', id, title, target: TARGET_RATIO, verdict, notes,
      subject: gatewayName(ctx), reference: refName, contenders: [...measured.values()], ratio: r,
    };
    out.push(scenario);

    if (latency) {
      const ltitle = 'p50 / p99 latency at half the peak rate';
      const peak = subject?.medianRps ?? null;
      if (peak === null) {
        out.push(errorScenario('latency', ltitle, 'p99 added ≤ 1 ms', new Error(`no clean peak throughput of ${gatewayName(ctx)} to take half of`)));
      } else {
        const rate = Math.max(1, Math.round(peak / 2));
        ctx.log(`\n▶ ${ltitle} (${rate} req/s, fixed rate)`);
        const systems = contenders.filter((c) => c.name !== 'upstream direct' && measured.get(c.name)?.check.ok);
        const lat = await measureLatency(ctx, systems.map((c) => ({ name: c.name, system: c.system })), rate);
        const s = lat.find((c) => c.name === gatewayName(ctx));
        const ref = lat.find((c) => c.name === refName);
        const added = (a: number | null | undefined, b: number | null | undefined): number | null => (a != null && b != null ? (a - b) / 1000 : null);
        const addedP99Ms = added(s?.p99Us, ref?.p99Us);
        const lnotes: string[] = [];
        for (const c of lat) {
          const bad = c.runs.filter((x) => !x.clean).length;
          if (bad) lnotes.push(`${c.name}: ${bad} of ${c.runs.length} runs not clean (failures, non-2xx or under 95% of the rate served)`);
        }
        const lverdict: Verdict = addedP99Ms === null ? 'FAIL' : addedP99Ms <= ADDED_P99_TARGET_MS ? 'PASS' : 'MISS';
        const l: LatencyScenario = {
          kind: 'latency', id: 'latency', title: ltitle, target: `p99 added ≤ ${ADDED_P99_TARGET_MS} ms`, verdict: lverdict, notes: lnotes,
          subject: gatewayName(ctx), reference: refName, rate, contenders: lat, addedP99Ms, addedP50Ms: added(s?.p50Us, ref?.p50Us),
        };
        out.push(l);
      }
    }
  } catch (err) {
    out.push(errorScenario(id, title, TARGET_RATIO, err));
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
  return out;
}

/** 1000 routes against 10, and the memory figures of both. */
export async function routesScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { routes, fewRoutes } = ctx.opts;
  const title = `${routes} routes (hits the last-declared)`;
  const gwName = gatewayName(ctx);
  const manyName = `${gwName}, ${routes} routes`;
  const fewName = `${gwName}, ${fewRoutes} routes`;
  const started: System[] = [];
  try {
    ctx.log(`\n▶ ${title} vs ${fewRoutes} routes`);
    const few = await writeAndStart(ctx, `routes-${fewRoutes}.yaml`, (p) => manyRoutesConfig(p, ctx.upstream.ports, fewRoutes), 1, false);
    started.push(few.gw);
    const many = await writeAndStart(ctx, `routes-${routes}.yaml`, (p) => manyRoutesConfig(p, ctx.upstream.ports, routes), 1, false);
    started.push(many.gw);
    const measured = await measureThroughput(ctx, [
      { name: manyName, system: many.gw, memory: true, primaryPid: many.gw.primaryPid },
      { name: fewName, system: few.gw, memory: true, primaryPid: few.gw.primaryPid },
    ]);
    const subject = measured.get(manyName);
    const reference = measured.get(fewName);
    const r = ratio(subject?.medianRps ?? null, reference?.medianRps ?? null);
    const { verdict, notes } = throughputVerdict(subject, reference, r);
    const throughput: ThroughputScenario = {
      kind: 'throughput', id: 'routes', title, target: TARGET_RATIO, verdict, notes,
      subject: manyName, reference: fewName, contenders: [...measured.values()], ratio: r,
    };
    const memory: MemoryScenario = {
      kind: 'memory', id: 'memory', title: `resident memory per worker, ${fewRoutes} vs ${routes} routes`, target: 'reported', verdict: 'INFO', notes: [],
      rows: [
        { name: fewName, routes: fewRoutes, ...memoryOf(reference) },
        { name: manyName, routes, ...memoryOf(subject) },
      ],
    };
    return [throughput, memory];
  } catch (err) {
    return [errorScenario('routes', title, TARGET_RATIO, err)];
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}

/** Wrong answers (a verified run sees every status) plus transport errors; no request counted twice. */
function failedCount(r: LoadResult): number {
  if (!r.verified) return r.errorCount;
  const e = r.errors;
  return r.verified.mismatches + e.connect + e.read + e.write + e.timeout;
}

function memoryOf(c: { memory?: { idleKiB: Record<string, number>; loadedPeakKiB: Record<string, number>; primaryIdleKiB?: number } } | undefined) {
  return { idleKiB: c?.memory?.idleKiB ?? {}, loadedPeakKiB: c?.memory?.loadedPeakKiB ?? {}, primaryIdleKiB: c?.memory?.primaryIdleKiB };
}

/** Reload of the large configuration under load, with every core serving. */
export async function reloadScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const { routes } = ctx.opts;
  const workers = 2;
  const title = `reload of ${routes} routes under load`;
  const target = `< ${RELOAD_TARGET_MS / 1000} s, 0 failed requests`;
  let gw: Gateway | undefined;
  try {
    ctx.log(`\n▶ ${title} (${workers} workers, ${ctx.opts.reloads} reload${ctx.opts.reloads > 1 ? 's' : ''}, file replaced by ${ctx.opts.reloadWrite})`);
    const started = await writeAndStart(ctx, `reload-${routes}.yaml`, (p) => manyRoutesConfig(p, ctx.upstream.ports, routes, 0), workers, true);
    gw = started.gw;
    const check = await checkOnce(gw.baseUrl, gw.probe);
    if (!check.ok) throw new Error(`wrong answer before reloading: ${check.detail}`);
    const outcome = await measureReloads(ctx, gw, started.path, started.port);
    const notes: string[] = [];
    const seen = outcome.reloads.filter((r) => r.configMs !== null).map((r) => r.configMs!);
    const failedRequests = outcome.load ? failedCount(outcome.load) : 0;
    if (outcome.loadFailure) notes.push(`load generator failed: ${outcome.loadFailure.split('\n')[0]}`);
    const problem = outcome.load && verificationProblem(outcome.load);
    if (problem) notes.push(`failed or wrong requests during the reloads: ${problem}`);
    for (const r of outcome.reloads) {
      if (r.error) notes.push(`reload ${r.generation}: ${r.error}`);
      else if (!r.underLoad) notes.push(`reload ${r.generation} finished after the load had ended`);
    }
    if (outcome.reloads.length < ctx.opts.reloads) notes.push(`only ${outcome.reloads.length} of ${ctx.opts.reloads} reloads were attempted`);
    const maxMs = seen.length ? Math.max(...seen) : null;
    let verdict: Verdict;
    if (notes.length > 0 || maxMs === null || !outcome.load) verdict = 'FAIL';
    else verdict = maxMs < RELOAD_TARGET_MS ? 'PASS' : 'MISS';
    const result: ReloadScenario = {
      kind: 'reload', id: 'reload', title, target, verdict, notes, routes, workers, write: ctx.opts.reloadWrite,
      reloads: outcome.reloads, medianMs: median(seen), maxMs, requests: outcome.load?.requests ?? 0, failedRequests,
    };
    return [result];
  } catch (err) {
    return [errorScenario('reload', title, target, err)];
  } finally {
    await gw?.stop();
  }
}
