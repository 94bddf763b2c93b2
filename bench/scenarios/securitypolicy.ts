// "SecurityPolicy routes": the plain route behind an Envoy Gateway
// SecurityPolicy, on one worker, timed in the same run as the plain route and
// the bare proxy: the full chain (CORS + JWT RS256 + an authorization rule;
// target ≥ 0.85× the bare proxy, a verified token cached) and API key
// authentication (target ≥ 0.9×). Then the full chain as a client population
// sends it: 2000 distinct valid tokens in rotation, against the same route
// sent one token through the same rotation hook (target ≥ 0.8×: the
// verified-token cache holds the population, a miss costs one verify).
import { request } from 'undici';
import { plainConfig } from '../config-gen.ts';
import { apiKeyConfig, fullChainConfig } from '../config-securitypolicy.ts';
import type { BenchContext } from '../context.ts';
import { benchIssuer } from '../jwt.ts';
import { startBareProxy } from '../references.ts';
import { throughputVerdict, type ScenarioResult, type ThroughputScenario } from '../results.ts';
import { ratio } from '../stats.ts';
import type { System } from '../system.ts';
import { errorScenario, gatewayName, writeAndStart } from './suite.ts';
import { measureThroughput } from './throughput.ts';

export const FULL_CHAIN_TARGET = 0.85;
export const API_KEY_TARGET = 0.9;
export const TOKEN_POPULATION_TARGET = 0.8;
export const TOKEN_POPULATION = 2000;

/** The same system, its probe sending each request with the next of `values` as Authorization. */
function rotating(system: System, values: string[]): System {
  return Object.assign(Object.create(system) as System, { probe: { ...system.probe, rotate: { header: 'authorization', values } } });
}

/** Without credentials the policy must refuse: otherwise the bench would time an unprotected route. */
async function refusedWithoutCredentials(baseUrl: string, path: string, want: number, what: string): Promise<void> {
  const res = await request(baseUrl + path, { headersTimeout: 5000, bodyTimeout: 5000 });
  await res.body.dump();
  if (res.statusCode !== want) throw new Error(`without credentials the ${what} route answered ${res.statusCode} (want ${want}): the policy is not in force`);
}

export async function securityPolicyScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const title = '1 worker, SecurityPolicy routes (full chain: CORS + JWT RS256 + authorization; API key)';
  const started: System[] = [];
  try {
    ctx.log(`\n▶ ${title} (with the plain route and the bare proxy in the same run)`);
    const jwt = benchIssuer();
    let fullRefused = 0;
    let keyRefused = 0;
    const full = await writeAndStart(ctx, 'sp-full-1.yaml', (p) => {
      const c = fullChainConfig(p, ctx.upstream.ports, jwt);
      fullRefused = c.unauthenticatedStatus;
      return c;
    }, 1, false);
    started.push(full.gw);
    const key = await writeAndStart(ctx, 'sp-key-1.yaml', (p) => {
      const c = apiKeyConfig(p, ctx.upstream.ports);
      keyRefused = c.unauthenticatedStatus;
      return c;
    }, 1, false);
    started.push(key.gw);
    const plain = await writeAndStart(ctx, 'sp-plain-1.yaml', (p) => plainConfig(p, ctx.upstream.ports), 1, false);
    started.push(plain.gw);
    const bare = await startBareProxy(ctx.upstream.ports.target, 1, plain.config.probe);
    started.push(bare);
    await refusedWithoutCredentials(full.gw.baseUrl, full.config.probe.path, fullRefused, 'full-chain');
    await refusedWithoutCredentials(key.gw.baseUrl, key.config.probe.path, keyRefused, 'API key');
    const g = gatewayName(ctx);
    const fullName = `${g}, SecurityPolicy CORS + JWT + authorization`;
    const keyName = `${g}, SecurityPolicy API key`;
    const plainName = `${g}, plain route`;
    const refName = 'bare proxy (1 process)';
    const manyName = `${g}, full chain, ${TOKEN_POPULATION} tokens in rotation`;
    const oneName = `${g}, full chain, 1 token through the same rotation hook`;
    const rotation = ctx.load.tool === 'wrk';
    const population = rotation ? jwt.tokens(TOKEN_POPULATION).map((t) => `Bearer ${t}`) : [];
    const measured = await measureThroughput(ctx, [
      { name: fullName, system: full.gw },
      { name: keyName, system: key.gw },
      { name: plainName, system: plain.gw },
      { name: refName, system: bare },
      ...(rotation ? [
        { name: manyName, system: rotating(full.gw, population) },
        { name: oneName, system: rotating(full.gw, [`Bearer ${jwt.token}`]) },
      ] : []),
    ]);
    const reference = measured.get(refName);
    const rows = [
      [fullName, 'secpolicy', '1 worker, SecurityPolicy CORS + JWT (RS256) + authorization route', FULL_CHAIN_TARGET],
      [keyName, 'secpolicy-apikey', '1 worker, SecurityPolicy API key route', API_KEY_TARGET],
      [plainName, 'secpolicy-plain', '1 worker, one plain route (same run as the SecurityPolicy routes)', API_KEY_TARGET],
    ] as const;
    const out: ScenarioResult[] = rows.map(([subjectName, id, stitle, target]) => {
      const subject = measured.get(subjectName);
      const r = ratio(subject?.medianRps ?? null, reference?.medianRps ?? null);
      const v = throughputVerdict(subject, reference, r);
      // throughputVerdict judges against the common 0.9×; this row has its own target.
      const verdict = v.verdict === 'FAIL' || r === null ? v.verdict : r >= target ? 'PASS' : 'MISS';
      const s: ThroughputScenario = {
        kind: 'throughput', id, title: stitle, target: `≥ ${target.toFixed(2)}×`, verdict, notes: v.notes,
        subject: subjectName, reference: refName, contenders: [...measured.values()], ratio: r,
      };
      return s;
    });
    const tokensTitle = `1 worker, full chain with ${TOKEN_POPULATION} distinct valid tokens in rotation vs one token (same wrk hook)`;
    if (!rotation) {
      out.push(errorScenario('secpolicy-tokens', tokensTitle, `≥ ${TOKEN_POPULATION_TARGET.toFixed(2)}×`, new Error('rotating tokens needs wrk (not installed)')));
      return out;
    }
    const many = measured.get(manyName);
    const one = measured.get(oneName);
    const r = ratio(many?.medianRps ?? null, one?.medianRps ?? null);
    const v = throughputVerdict(many, one, r);
    out.push({
      kind: 'throughput', id: 'secpolicy-tokens', title: tokensTitle, target: `≥ ${TOKEN_POPULATION_TARGET.toFixed(2)}×`,
      verdict: v.verdict === 'FAIL' || r === null ? v.verdict : r >= TOKEN_POPULATION_TARGET ? 'PASS' : 'MISS', notes: v.notes,
      subject: manyName, reference: oneName, contenders: [...measured.values()], ratio: r,
    });
    return out;
  } catch (err) {
    return [errorScenario('secpolicy', title, `≥ ${FULL_CHAIN_TARGET.toFixed(2)}×`, err)];
  } finally {
    await Promise.all(started.map((s) => s.stop()));
  }
}
