// What every scenario needs: the options, the load generator, the shared upstream.
import type { Options } from './options.ts';
import type { LoadGenerator, LoadSpec } from './load/types.ts';
import type { UpstreamProcess } from './references.ts';
import type { System } from './system.ts';

export interface BenchContext {
  opts: Options;
  load: LoadGenerator;
  upstream: UpstreamProcess;
  nginxPath: string | undefined;
  /** A temp dir for generated configs. */
  workdir: string;
  log(message: string): void;
}

/** The one client setting every throughput run uses. */
export function loadSpec(ctx: BenchContext, system: System, durationSec = ctx.opts.durationSec): LoadSpec {
  return {
    url: system.baseUrl + system.probe.path,
    headers: system.probe.headers,
    ...(system.probe.rotate ? { rotate: system.probe.rotate } : {}),
    connections: ctx.opts.connections,
    threads: ctx.opts.threads,
    durationSec,
  };
}
