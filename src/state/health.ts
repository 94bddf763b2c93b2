// Replica health that outlives a snapshot (docs/state.md): per (policy, route
// rule, backend) — Envoy Gateway makes one cluster per route rule — the
// outlier-detection counters and ejections (healthCheck.passive), the active
// health check's verdicts (healthCheck.active) and when a replica entered
// rotation (loadBalancer.slowStart). A reload compiles new balancers that find
// the same records, so an ejected replica stays ejected and a replica that
// failed its checks stays out.
import type { IRPassiveHealth } from '../ir/traffic.ts';

export interface EndpointHealth {
  /** "host:port". */
  readonly address: string;
  /** Consecutive 5xx answers (and, unless split, local-origin failures). */
  c5xx: number;
  /** Consecutive 502/503/504 (and, unless split, local-origin failures). */
  cGateway: number;
  /** Consecutive local-origin failures (connect failure, reset, timeout), split mode. */
  cLocal: number;
  ejected: boolean;
  ejectedUntil: number;
  /** Ejection multiplier: the nth ejection lasts n × baseEjectionTime (less one per clean interval since). */
  ejections: number;
  unejectedAt: number;
  /** The active health check says unhealthy (unhealthyThreshold failures in a row). */
  activeFailed: boolean;
  probeFails: number;
  probeOks: number;
  /** When it (re)entered rotation for slow start (ms since epoch); 0: not ramping. */
  since: number;
}

/** Envoy's max_ejection_time default: an ejection never lasts longer than this. */
const MAX_EJECTION_MS = 300_000;

export class HealthState {
  readonly key: string;
  private readonly records = new Map<string, EndpointHealth>();
  /** Bumped whenever the set of replicas in rotation changes (balancers rebuild then). */
  version = 0;
  /** Earliest ejectedUntil of an ejected replica (Infinity when none is ejected). */
  nextExpiry = Infinity;
  /** Replicas the current snapshot balances over (maxEjectionPercent is of these). */
  total = 0;
  /** Set once a first snapshot listed its replicas: replicas seen after that ramp up (slow start). */
  private initialized = false;
  ejectionsTotal = 0;

  constructor(key: string) {
    this.key = key;
  }

  /** The record of one replica (created when a snapshot first lists it). */
  endpoint(address: string): EndpointHealth {
    let r = this.records.get(address);
    if (r === undefined) {
      r = { address, c5xx: 0, cGateway: 0, cLocal: 0, ejected: false, ejectedUntil: 0, ejections: 0, unejectedAt: 0, activeFailed: false, probeFails: 0, probeOks: 0, since: this.initialized ? Date.now() : 0 };
      this.records.set(address, r);
    }
    return r;
  }

  /** A snapshot lists its replicas: records for them, the others forgotten. */
  adopt(addresses: readonly string[]): EndpointHealth[] {
    const out = addresses.map((a) => this.endpoint(a));
    this.initialized = true;
    this.total = addresses.length;
    const keep = new Set(addresses);
    for (const [a, r] of this.records) {
      if (keep.has(a)) continue;
      if (r.ejected) this.uneject(r, Date.now());
      this.records.delete(a);
    }
    this.version++;
    return out;
  }

  /** Lookup without creating (outlier reports for a replica the snapshot no longer lists are dropped). */
  get(address: string): EndpointHealth | undefined {
    return this.records.get(address);
  }

  /** Return replicas whose ejection time is over (called lazily by the balancer when now ≥ nextExpiry). */
  sweep(now: number): void {
    let next = Infinity;
    for (const r of this.records.values()) {
      if (!r.ejected) continue;
      if (r.ejectedUntil <= now) this.uneject(r, now);
      else if (r.ejectedUntil < next) next = r.ejectedUntil;
    }
    this.nextExpiry = next;
  }

  private uneject(r: EndpointHealth, now: number): void {
    r.ejected = false;
    r.unejectedAt = now;
    this.version++;
  }

  private ejectedCount(): number {
    let n = 0;
    for (const r of this.records.values()) if (r.ejected) n++;
    return n;
  }

  /** Outlier detection: eject when the percentage allows (Envoy ejects at least one replica whatever the percentage). */
  private eject(r: EndpointHealth, p: IRPassiveHealth, now: number): void {
    r.c5xx = r.cGateway = r.cLocal = 0;
    if (r.ejected) return;
    const ejected = this.ejectedCount();
    if (ejected > 0 && (ejected * 100) / Math.max(1, this.total) >= p.maxEjectionPercent) return;
    // The multiplier decreases by one for every interval the replica stayed in rotation (Envoy).
    if (r.ejections > 0 && p.intervalMs > 0) r.ejections = Math.max(0, r.ejections - Math.floor((now - r.unejectedAt) / p.intervalMs));
    r.ejections++;
    r.ejected = true;
    r.ejectedUntil = now + Math.min(p.baseEjectionTimeMs * r.ejections, Math.max(MAX_EJECTION_MS, p.baseEjectionTimeMs));
    if (r.ejectedUntil < this.nextExpiry) this.nextExpiry = r.ejectedUntil;
    this.ejectionsTotal++;
    this.version++;
  }

  /** An answer from the replica (external origin): 5xx counts, anything else resets the counters. */
  reportStatus(r: EndpointHealth, status: number, p: IRPassiveHealth): void {
    if (p.splitExternalLocalOriginErrors) r.cLocal = 0; // it connected
    if (status < 500) {
      r.c5xx = r.cGateway = 0;
      if (!p.splitExternalLocalOriginErrors) r.cLocal = 0;
      return;
    }
    r.c5xx++;
    if (status === 502 || status === 503 || status === 504) r.cGateway++;
    else r.cGateway = 0;
    this.check(r, p);
  }

  /** A local-origin failure (no connection, reset before an answer, timeout). */
  reportLocalFailure(r: EndpointHealth, p: IRPassiveHealth): void {
    if (p.splitExternalLocalOriginErrors) {
      r.cLocal++;
      if (p.consecutiveLocalOriginFailures > 0 && r.cLocal >= p.consecutiveLocalOriginFailures) this.eject(r, p, Date.now());
      return;
    }
    // Not split: counted as a 503 from the replica (Envoy maps local-origin failures to gateway errors).
    r.c5xx++;
    r.cGateway++;
    this.check(r, p);
  }

  private check(r: EndpointHealth, p: IRPassiveHealth): void {
    if ((p.consecutive5XxErrors > 0 && r.c5xx >= p.consecutive5XxErrors) || (p.consecutiveGatewayErrors > 0 && r.cGateway >= p.consecutiveGatewayErrors)) this.eject(r, p, Date.now());
  }

  /** An active check's verdict on one replica. */
  reportProbe(r: EndpointHealth, ok: boolean, healthyThreshold: number, unhealthyThreshold: number): void {
    if (ok) {
      r.probeFails = 0;
      r.probeOks++;
      if (r.activeFailed && r.probeOks >= healthyThreshold) {
        r.activeFailed = false;
        r.since = Date.now(); // back in rotation: slow start ramps it up again
        this.version++;
      }
    } else {
      r.probeOks = 0;
      r.probeFails++;
      if (!r.activeFailed && r.probeFails >= unhealthyThreshold) {
        r.activeFailed = true;
        this.version++;
      }
    }
  }
}

const states = new Map<string, HealthState>();

/** The health state of (policy, route rule, backend): "<policy>|<route id>|<backend id>". */
export function healthState(key: string): HealthState {
  let s = states.get(key);
  if (s === undefined) states.set(key, (s = new HealthState(key)));
  return s;
}

/** Ejections so far, for /metrics. */
export function outlierEjections(): number {
  let n = 0;
  for (const s of states.values()) n += s.ejectionsTotal;
  return n;
}
