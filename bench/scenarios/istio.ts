// "Istio JWT + authorization route": the plain route behind a
// RequestAuthentication (RS256, inline JWKS) and an ALLOW requiring a request
// principal, timed in the same run as the plain route and the bare proxy, so
// that both ratios (plain / bare, Istio / bare) come from one measurement.
import { request } from 'undici';
import { istioConfig, plainConfig } from '../config-gen.ts';
import type { BenchContext } from '../context.ts';
import { benchIssuer } from '../jwt.ts';
import { startBareProxy } from '../references.ts';
import { throughputVerdict, type ScenarioResult, type ThroughputScenario } from '../results.ts';
import { ratio } from '../stats.ts';
import type { System } from '../system.ts';
import { errorScenario, gatewayName, TARGET_RATIO, writeAndStart } from './suite.ts';
import { measureThroughput } from './throughput.ts';

/** Without a token the policy must refuse: otherwise the bench would time an unprotected route. */
async function refusedWithoutToken(baseUrl: string, path: string, want: number): Promise<string | undefined> {
  const res = await request(baseUrl + path, { headersTimeout: 5000, bodyTimeout: 5000 });
  await res.body.dump();
  return res.statusCode === want ? undefined : `without a token the Istio route answered ${res.statusCode} (want ${want}): the policy is not in force`;
}

export async function istioScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const title = '1 worker, Istio JWT (RS256) + ALLOW requestPrincipals route';
  const id = 'istio';
  const started: System[] = [];
  try {
    ctx.log(`\n▶ ${title} (with the plain route and the bare proxy in the same run)`);
    const jwt = benchIssuer();
    let unauthenticated = 0;
    const istio = await writeAndStart(ctx, 'istio-1.yaml', (p) => {
      const c = istioConfig(p, ctx.upstream.ports, jwt);
      unauthenticated = c.unauthenticatedStatus;
      return c;
    }, 1, false);
    started.push(istio.gw);
    const plain = await writeAndStart(ctx, 'istio-plain-1.yaml', (p) => plainConfig(p, ctx.upstream.ports), 1, false);
    started.push(plain.gw);
    const bare = await startBareProxy(ctx.upstream.ports.target, 1, plain.config.probe);
    started.push(bare);
    const problem = await refusedWithoutToken(istio.gw.baseUrl, istio.config.probe.path, unauthenticated);
    if (problem) throw new Error(problem);
    const istioName = `${gatewayName(ctx)}, Istio JWT + ALLOW`;
    const plainName = `${gatewayName(ctx)}, plain route`;
    const refName = 'bare proxy (1 process)';
    const measured = await measureThroughput(ctx, [
      { name: istioName, system: istio.gw },
      { name: plainName, system: plain.gw },
      { name: refName, system: bare },
    ]);
    const reference = measured.get(refName);
    const out: ScenarioResult[] = [];
    for (const [subjectName, sid, stitle] of [[istioName, id, title], [plainName, 'istio-plain', '1 worker, one plain route (same run as the Istio route)']] as const) {
      const subject = measured.get(subjectName);
      const r = ratio(subject?.medianRps ?? null, reference?.medianRps ?? null);
      const { verdict, notes } = throughputVerdict(subject, reference, r);
      const s: ThroughputScenario = {
        kind: 'throughput', id: sid, title: stitle, target: TARGET_RATIO, verdict, notes,
        subject: subjectName, reference: refName, contenders: [...measured.values()], ratio: r,
      };
      out.push(s);
    }
    return out;
  } catch (err) {
    return [errorScenario(id, title, TARGET_RATIO, err)];
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}
