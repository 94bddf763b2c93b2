// Circuit-breaker state that outlives a snapshot (docs/state.md): requests
// and retries in flight per (policy, route rule, backend). A reload compiles
// new decorators that find the same counters, so requests still in flight on
// the old snapshot keep counting against the thresholds.

export interface BreakerState {
  /** Requests in flight to the backend through this route rule. */
  active: number;
  /** Retries in flight. */
  retries: number;
  /** Requests refused with 503 because a threshold was reached. */
  overflows: number;
}

const states = new Map<string, BreakerState>();

export function breakerState(key: string): BreakerState {
  let s = states.get(key);
  if (s === undefined) states.set(key, (s = { active: 0, retries: 0, overflows: 0 }));
  return s;
}

/** Every breaker's overflow count, for /metrics. */
export function breakerOverflows(): number {
  let n = 0;
  for (const s of states.values()) n += s.overflows;
  return n;
}
