// "regex route vs plain route": one gateway, two routes, two probes. The
// regex route matches its path and a header with RegularExpression (RE2,
// linear time: src/match/regex.ts); the plain one is a PathPrefix. Their
// throughput ratio is what evaluating user regexes costs per request.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REGEX_HEADER, REGEX_PATH, regexConfig } from '../config-gen.ts';
import type { BenchContext } from '../context.ts';
import { startGateway, type Gateway } from '../gateway.ts';
import { freePort } from '../net.ts';
import { THROUGHPUT_TARGET, throughputVerdict, type ScenarioResult, type ThroughputScenario } from '../results.ts';
import { ratio } from '../stats.ts';
import { errorScenario } from './suite.ts';
import { measureThroughput } from './throughput.ts';

export async function regexScenario(ctx: BenchContext): Promise<ScenarioResult[]> {
  const title = 'regex route (RE2 path + header match) vs a plain route, 1 worker';
  const target = `≥ ${THROUGHPUT_TARGET.toFixed(2)}×`;
  const gwName = ctx.opts.standIn ? 'stand-in' : 'portcullis';
  const regexName = `${gwName}, regex route`;
  const plainName = `${gwName}, plain route`;
  let gw: Gateway | undefined;
  try {
    ctx.log(`\n▶ ${title} (path ${REGEX_PATH}, x-tenant ${REGEX_HEADER})`);
    const port = await freePort();
    const config = regexConfig(port, ctx.upstream.ports);
    const file = join(ctx.workdir, 'regex.yaml');
    writeFileSync(file, config.yaml);
    gw = await startGateway({ configFile: file, port, workers: 1, watch: false, probe: config.plain, standIn: ctx.opts.standIn });
    // One process, two probes: the second contender only changes which route answers.
    const viaRegex = { ...gw, probe: config.regex, stop: async () => {} };
    const measured = await measureThroughput(ctx, [
      { name: regexName, system: viaRegex },
      { name: plainName, system: gw },
    ]);
    const subject = measured.get(regexName);
    const reference = measured.get(plainName);
    const r = ratio(subject?.medianRps ?? null, reference?.medianRps ?? null);
    const { verdict, notes } = throughputVerdict(subject, reference, r);
    const result: ThroughputScenario = {
      kind: 'throughput', id: 'regex', title, target, verdict, notes,
      subject: regexName, reference: plainName, contenders: [...measured.values()], ratio: r,
    };
    return [result];
  } catch (err) {
    return [errorScenario('regex', title, target, err)];
  } finally {
    await gw?.stop();
  }
}
