// "Local and global rate limit": the plain route behind a BackendTrafficPolicy
// rate limit high enough never to trigger (so every request is charged, none
// refused), timed in the same run as the plain route. Local counts in the
// gateway; Global counts in a real redis-server started here (batched Lua
// INCRBY per key per event-loop turn, pipelined: docs/state.md).
import { stringify } from 'yaml';
import { plainConfig, type GeneratedConfig, type Upstreams } from '../config-gen.ts';
import type { BenchContext } from '../context.ts';
import { freePort, sleep } from '../net.ts';
import { startChild, type Child } from '../processes.ts';
import { throughputVerdict, type ScenarioResult, type ThroughputScenario } from '../results.ts';
import { ratio } from '../stats.ts';
import type { System } from '../system.ts';
import { errorScenario, gatewayName, writeAndStart } from './suite.ts';
import { measureThroughput } from './throughput.ts';

const LIMIT = 1_000_000_000;
const TARGETS = { Local: 0.95, Global: 0.85 } as const;

function limitedConfig(port: number, upstreams: Upstreams, type: 'Local' | 'Global'): GeneratedConfig {
  const plain = plainConfig(port, upstreams);
  const rules = [{ limit: { requests: LIMIT, unit: 'Second' } }];
  const policy = {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'BackendTrafficPolicy',
    metadata: { name: 'bench-limit', namespace: 'default' },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'plain' }],
      rateLimit: type === 'Local' ? { type, local: { rules } } : { type, global: { rules } },
    },
  };
  return {
    ...plain,
    yaml: `${plain.yaml}---\n${stringify(policy)}`,
    // The limit's own header proves the policy is in force on every checked answer.
    probe: { ...plain.probe, expect: { ...plain.probe.expect, headers: { 'ratelimit-limit': String(LIMIT) } } },
  };
}

async function startRedis(): Promise<{ url: string; child: Child }> {
  const port = await freePort();
  const child = startChild('redis-server', 'redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']);
  await child.waitForLine((l) => l.includes('Ready to accept connections'), 10_000).catch(async () => {
    await sleep(300);
    if (!child.alive()) throw new Error(`redis-server did not start: ${child.output()}`);
  });
  return { url: `redis://127.0.0.1:${port}`, child };
}

export async function rateLimitScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const title = '1 worker, local and global (Redis) rate limit on the plain route';
  const id = 'ratelimit';
  const started: { stop(): Promise<void> }[] = [];
  try {
    ctx.log(`\n▶ ${title} (limits never reached; plain route in the same run)`);
    const redis = await startRedis();
    started.push(redis.child);
    const plain = await writeAndStart(ctx, 'rl-plain.yaml', (p) => plainConfig(p, ctx.upstream.ports), 1, false);
    started.push(plain.gw);
    const local = await writeAndStart(ctx, 'rl-local.yaml', (p) => limitedConfig(p, ctx.upstream.ports, 'Local'), 1, false);
    started.push(local.gw);
    const global = await writeAndStart(ctx, 'rl-global.yaml', (p) => limitedConfig(p, ctx.upstream.ports, 'Global'), 1, false, ['--redis', redis.url]);
    started.push(global.gw);
    // 2 workers: the local limit is one budget leased from the primary (docs/state.md).
    const plain2 = await writeAndStart(ctx, 'rl-plain-2.yaml', (p) => plainConfig(p, ctx.upstream.ports), 2, false);
    started.push(plain2.gw);
    const local2 = await writeAndStart(ctx, 'rl-local-2.yaml', (p) => limitedConfig(p, ctx.upstream.ports, 'Local'), 2, false);
    started.push(local2.gw);
    const names = {
      plain: `${gatewayName(ctx)}, plain route`, Local: `${gatewayName(ctx)}, local rate limit`, Global: `${gatewayName(ctx)}, global rate limit (Redis)`,
      plain2: `${gatewayName(ctx)} (2 workers), plain route`, Local2: `${gatewayName(ctx)} (2 workers), local rate limit (leased)`,
    };
    const contenders: { name: string; system: System }[] = [
      { name: names.Local, system: local.gw },
      { name: names.Global, system: global.gw },
      { name: names.plain, system: plain.gw },
      { name: names.Local2, system: local2.gw },
      { name: names.plain2, system: plain2.gw },
    ];
    const measured = await measureThroughput(ctx, contenders);
    const reference = measured.get(names.plain);
    const out: ScenarioResult[] = [];
    for (const type of ['Local', 'Global'] as const) {
      const subject = measured.get(names[type]);
      const r = ratio(subject?.medianRps ?? null, reference?.medianRps ?? null);
      const { verdict, notes } = throughputVerdict(subject, reference, r, TARGETS[type]);
      const s: ThroughputScenario = {
        kind: 'throughput', id: type === 'Local' ? 'ratelimit-local' : 'ratelimit-global', title: `1 worker, ${type === 'Local' ? 'local' : 'global (Redis)'} rate limit vs the plain route`,
        target: `≥ ${TARGETS[type].toFixed(2)}× the plain route`, verdict, notes,
        subject: names[type], reference: names.plain, contenders: [...measured.values()], ratio: r,
      };
      out.push(s);
    }
    const subject2 = measured.get(names.Local2);
    const reference2 = measured.get(names.plain2);
    const r2 = ratio(subject2?.medianRps ?? null, reference2?.medianRps ?? null);
    const v2 = throughputVerdict(subject2, reference2, r2, TARGETS.Local);
    out.push({
      kind: 'throughput', id: 'ratelimit-local-2', title: '2 workers, local rate limit (one budget, leased) vs the plain route',
      target: `≥ ${TARGETS.Local.toFixed(2)}× the plain route`, verdict: v2.verdict, notes: v2.notes,
      subject: names.Local2, reference: names.plain2, contenders: [...measured.values()], ratio: r2,
    });
    return out;
  } catch (err) {
    return [errorScenario(id, title, '≥ 0.95× / ≥ 0.85×', err)];
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}
