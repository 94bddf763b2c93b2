// A system under test: something serving HTTP on a port that the load generator hits.
import type { Probe } from './config-gen.ts';
import type { Child } from './processes.ts';

export interface System {
  /** Short name for tables: "portcullis", "bare proxy", "nginx", ... */
  label: string;
  baseUrl: string;
  probe: Probe;
  child: Child;
  /** The processes that serve requests (workers), for memory figures. */
  servingPids(): number[];
  stop(): Promise<void>;
}

/** Why a system cannot serve any more (its process died), or undefined. */
export function deadReason(child: Child): string | undefined {
  return child.alive() ? undefined : `${child.name} exited\n${child.output()}`;
}
