// The reference systems the gateway is compared with: the upstream itself and
// the bare node:http + undici proxy (one process or a node:cluster).
import { join } from 'node:path';
import type { Probe } from './config-gen.ts';
import { childPids } from './memory.ts';
import { startChild, type Child } from './processes.ts';
import type { System } from './system.ts';

const HERE = import.meta.dirname;

export interface UpstreamProcess {
  child: Child;
  ports: { target: number; other: number };
}

export async function startUpstream(): Promise<UpstreamProcess> {
  const child = startChild('upstream', process.execPath, [join(HERE, 'upstream.ts'), 'target', 'other'], { stdinLifeline: true });
  const line = await child.waitForLine((l) => l.startsWith('{'), 15_000);
  const { ports } = JSON.parse(line) as { ports: { target: number; other: number } };
  return { child, ports };
}

/** The upstream hit directly: the ceiling every proxy is under on this machine. */
export function upstreamDirect(up: UpstreamProcess, probe: Probe): System {
  return {
    label: 'upstream direct',
    baseUrl: `http://127.0.0.1:${up.ports.target}`,
    probe,
    child: up.child,
    servingPids: () => [up.child.pid],
    stop: async () => {}, // shared by every scenario; stopped at the end
  };
}

export async function startBareProxy(targetPort: number, workers: number, probe: Probe): Promise<System> {
  const child = startChild(
    `bare proxy (${workers} process${workers > 1 ? 'es' : ''})`,
    process.execPath,
    [join(HERE, 'bare-proxy.ts'), '--target', `http://127.0.0.1:${targetPort}`, '--workers', String(workers)],
    { stdinLifeline: true },
  );
  let port: number;
  try {
    const line = await child.waitForLine((l) => l.startsWith('{'), 15_000);
    port = (JSON.parse(line) as { port: number }).port;
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    label: 'bare proxy',
    baseUrl: `http://127.0.0.1:${port}`,
    probe,
    child,
    servingPids: () => (workers > 1 ? childPids(child.pid) : [child.pid]),
    stop: () => child.stop(),
  };
}

