// Starts the gateway exactly as an operator would:
//   node bin/portcullis.js run -f CONFIG.yaml --workers N --bind 127.0.0.1
//        --admin 127.0.0.1:PORT --log-level warn --access-log off [--watch]
// and waits for the admin /readyz to answer 200.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { Probe } from './config-gen.ts';
import { childPids } from './memory.ts';
import { freePort, waitForHttp200 } from './net.ts';
import { startChild } from './processes.ts';
import { deadReason, type System } from './system.ts';

export const REPO = join(import.meta.dirname, '..');
export const GATEWAY_BIN = join(REPO, 'bin', 'portcullis.js');
export const STAND_IN_BIN = join(REPO, 'bench', 'stand-in', 'gateway.ts');

export interface GatewayOptions {
  configFile: string;
  /** The port the config's Gateway listener uses. */
  port: number;
  workers: number;
  watch: boolean;
  probe: Probe;
  /** Use bench/stand-in/gateway.ts instead of bin/portcullis.js (only before the real one exists). */
  standIn: boolean;
  /** More `run` options (e.g. --redis URL). */
  extraArgs?: string[];
  /** Another checkout of the project to run the gateway of (bench/ab.ts compares checkouts); default: this one. */
  checkout?: string;
}

export interface Gateway extends System {
  adminUrl: string;
  /** The primary process's pid (the admin side). */
  primaryPid: number;
  /** `version` of the admin GET /config. */
  configVersion(): Promise<string>;
}

export function gatewayAvailable(): boolean {
  return existsSync(GATEWAY_BIN);
}

export async function startGateway(opts: GatewayOptions): Promise<Gateway> {
  const adminPort = await freePort();
  const bin = opts.standIn ? STAND_IN_BIN : opts.checkout ? join(opts.checkout, 'bin', 'portcullis.js') : GATEWAY_BIN;
  const args = [
    bin, 'run', '-f', opts.configFile, '--workers', String(opts.workers), '--bind', '127.0.0.1',
    '--admin', `127.0.0.1:${adminPort}`, '--log-level', 'warn', '--access-log', 'off',
  ];
  if (opts.watch) args.push('--watch');
  args.push(...(opts.extraArgs ?? []));
  const child = startChild(`${opts.standIn ? 'stand-in gateway' : 'portcullis'} (${opts.workers} worker${opts.workers > 1 ? 's' : ''})`, process.execPath, args, { cwd: opts.checkout ?? REPO });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  try {
    await waitForHttp200(`${adminUrl}/readyz`, 30_000, () => deadReason(child));
  } catch (err) {
    await child.stop();
    throw err;
  }
  return {
    label: opts.standIn ? 'stand-in' : 'portcullis',
    baseUrl: `http://127.0.0.1:${opts.port}`,
    probe: opts.probe,
    child,
    adminUrl,
    primaryPid: child.pid,
    // Workers are the gateway's children; a gateway that serves in-process has none.
    servingPids() {
      const kids = childPids(child.pid);
      return kids.length > 0 ? kids : [child.pid];
    },
    async configVersion() {
      // /config/version: the version alone, so polling costs the primary nothing.
      const res = await request(`${adminUrl}/config/version`, { headersTimeout: 5000, bodyTimeout: 5000 });
      const text = await res.body.text();
      if (res.statusCode !== 200) throw new Error(`GET /config/version: status ${res.statusCode}`);
      const version = (JSON.parse(text) as { version?: unknown }).version;
      if (typeof version !== 'string' && typeof version !== 'number') throw new Error('GET /config/version: no version field');
      return String(version);
    },
    stop: () => child.stop(),
  };
}
