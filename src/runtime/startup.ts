// What `run` checks before it serves, shared by the single process and the
// primary of a multi-worker instance: a startup that cannot serve what it was
// given stops with one clear line (exit 1), whatever the worker count.
import type { BuildResult } from '../config/pipeline.ts';
import type { Snapshot } from '../ir/types.ts';
import { formatError } from '../resources/errors.ts';
import { startAdmin, type AdminState } from '../admin/server.ts';
import type http from 'node:http';
import { socketReason } from '../dataplane/socket-error.ts';

export class StartupError extends Error {
  readonly details: string[];
  constructor(message: string, details: string[]) {
    super(message);
    this.details = details;
  }
}

/** The first build, as `run` accepts it: errors and listeners that cannot be served stop the start. */
export function firstSnapshot(first: BuildResult): Snapshot {
  if (!first.snapshot) throw new StartupError('the configuration has errors', first.errors.map(formatError));
  const unserved = unservableListeners(first.snapshot);
  if (unserved.length > 0) throw new StartupError(unserved.length === 1 ? unserved[0] : 'listeners cannot be served', unserved.length === 1 ? [] : unserved);
  return first.snapshot;
}

/**
 * Listeners a start must not silently skip: a certificate that does not load
 * leaves its HTTPS listener unserved, which at startup is a failure (on a
 * reload it is reported in the status and the other listeners keep serving).
 */
function unservableListeners(s: Snapshot): string[] {
  const out: string[] = [];
  for (const st of s.status) {
    if (!st.object.startsWith('Gateway/')) continue;
    for (const c of st.conditions) {
      if (c.reason === 'InvalidCertificateRef') out.push(`${st.object} ${c.message}`);
    }
  }
  return out;
}

/** Startup warnings that do not stop the start. */
export function startupWarnings(s: Snapshot, resourceKinds: readonly string[]): string[] {
  const out: string[] = [];
  if (!resourceKinds.includes('Gateway')) out.push('no Gateway found: nothing will listen until a Gateway is added');
  else if (s.listeners.length === 0) out.push('no Gateway listener can be served: nothing listens');
  return out;
}

/** The admin listener, or a StartupError that says why it could not open. */
export async function openAdmin(host: string, port: number, state: AdminState): Promise<http.Server> {
  try {
    return await startAdmin(host, port, state);
  } catch (err) {
    throw new StartupError(`cannot open the admin listener on ${host}:${port}: ${socketReason(err)}`, []);
  }
}
