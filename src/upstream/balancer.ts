// Which replica of a backend serves a request (BackendTrafficPolicy
// loadBalancer, healthCheck, HTTPRoute sessionPersistence): one Balancer per
// route rule and backend, compiled per snapshot. pick() allocates nothing:
// the replicas in rotation are an array rebuilt only when health changes
// (the state's version moves), the Maglev table likewise, and hashing a
// header, a cookie or the client address walks the string in place.
//
// Envoy Gateway's behaviour, kept here:
// - default LeastRequest (no policy, or a policy without loadBalancer);
//   with few replicas the least loaded is found by a scan (exact), from a
//   rotating start so that idle replicas take turns like RoundRobin; past 16
//   replicas, two random choices (Envoy's P2C).
// - ConsistentHash is Maglev (tableSize, default 65537) over the replicas in
//   rotation. A request without the hash input (header missing, no cookie and
//   no ttl to generate one) gets a random replica, as Envoy's Maglev does.
//   Cookie with ttl: absent, one is generated and set on the answer.
// - slowStart.window (RoundRobin, LeastRequest): a replica that joined after
//   the first snapshot, or came back from failing active checks, is weighted
//   max(10 %, elapsed / window) until the window is over.
// - panic: below healthCheck.panicThreshold percent (default 50) of replicas
//   healthy, traffic goes to all of them (Envoy's panic mode); with none in
//   rotation and panic off, the answer is 503 no healthy upstream.
import { randomBytes } from 'node:crypto';
import type { IRRoute, IRWeightedBackend } from '../ir/types.ts';
import type { IRConsistentHash, IRLoadBalancer, IRHealthCheck, IRSessionPersistence } from '../ir/traffic.ts';
import { healthState, type EndpointHealth, type HealthState } from '../state/health.ts';
import type { Cluster, Member } from './cluster.ts';
import { acquireActiveCheck } from './active-health.ts';

/** What pick() reads of a request (an UpstreamRequest is one). */
export interface BalanceInput {
  /** The upstream request's headers (lowercase names). */
  headers?: unknown;
  /** The client's address (after X-Forwarded-For trust), for SourceIP hashing. */
  source?: string;
  attempt: { stickyName: string | undefined; stickyValue: string };
}

const RR = 0;
const LEAST = 1;
const RANDOM = 2;
const HASH = 3;

const DEFAULT_LB: IRLoadBalancer = { type: 'LeastRequest', slowStartMs: 0 };
const MIN_SLOW_WEIGHT = 0.1;
const P2C_ABOVE = 16;

/** FNV-1a over a string's UTF-16 code units, continuing from `h` (no allocation). */
export function fnv1a(s: string, h = 0x811c9dc5): number {
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The value of cookie `name` in a Cookie header, hashed where it lies; -1 when absent. */
function cookieHash(header: string, name: string): number {
  let i = 0;
  const n = header.length;
  while (i < n) {
    while (i < n && (header.charCodeAt(i) === 32 || header.charCodeAt(i) === 59)) i++;
    if (header.startsWith(name, i) && header.charCodeAt(i + name.length) === 61 /* = */) {
      let h = 0x811c9dc5;
      let j = i + name.length + 1;
      for (; j < n && header.charCodeAt(j) !== 59; j++) {
        h ^= header.charCodeAt(j);
        h = Math.imul(h, 0x01000193);
      }
      return h >>> 0;
    }
    const semi = header.indexOf(';', i);
    if (semi < 0) return -1;
    i = semi + 1;
  }
  return -1;
}

/** The value of cookie `name`, or undefined (allocates: session persistence only reads it once per request). */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const list = typeof header === 'string' ? [header] : header;
  for (const h of list) {
    for (const part of h.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
    }
  }
  return undefined;
}

/** Maglev lookup table (Eisenbud et al.): entry i is an index into `members`. */
export function maglevTable(addresses: readonly string[], size: number): Int32Array {
  const table = new Int32Array(size).fill(-1);
  const n = addresses.length;
  if (n === 0) return table;
  const offset = addresses.map((a) => fnv1a(a, 0x9747b28c) % size);
  const skip = addresses.map((a) => (fnv1a(a, 0x811c9dc5) % (size - 1)) + 1);
  const next = new Float64Array(n);
  let filled = 0;
  for (;;) {
    for (let i = 0; i < n; i++) {
      let c = (offset[i] + next[i] * skip[i]) % size;
      while (table[c] >= 0) {
        next[i]++;
        c = (offset[i] + next[i] * skip[i]) % size;
      }
      table[c] = i;
      next[i]++;
      if (++filled === size) return table;
    }
  }
}

export class Balancer {
  readonly cluster: Cluster;
  private readonly all: readonly Member[];
  private readonly kind: number;
  private readonly hash: IRConsistentHash | undefined;
  private readonly slowStartMs: number;
  private readonly state: HealthState | undefined;
  /** Aligned with `all`. */
  private readonly records: EndpointHealth[] = [];
  private readonly panicThreshold: number;
  private readonly session: IRSessionPersistence | undefined;
  private readonly releaseCheck: (() => void) | undefined;
  /** The replicas in rotation, and their records. */
  private live: Member[];
  private liveRecords: EndpointHealth[] = [];
  private seen = -1;
  private table: Int32Array | undefined;
  private rr = 0;
  /** Some replica in rotation is still ramping up until then. */
  private slowUntil = 0;
  /** Replicas not ejected and not failing active checks, at the last rebuild. */
  private healthy = 0;

  /** The route rule's own pools (circuitBreaker.maxRequestsPerConnection, timeout.tcp.connectTimeout). */
  private readonly own: Cluster | undefined;

  constructor(cluster: Cluster, route: IRRoute, ref: IRWeightedBackend) {
    this.cluster = cluster;
    if (route.traffic?.pool || route.traffic?.useClientProtocol) this.own = cluster.withSettings(route.traffic.pool, route.traffic.useClientProtocol === true);
    this.all = (this.own ?? cluster).members;
    this.live = this.all as Member[];
    const t = route.traffic;
    const lb = t?.loadBalancer ?? DEFAULT_LB;
    this.kind = lb.type === 'RoundRobin' ? RR : lb.type === 'Random' ? RANDOM : lb.type === 'ConsistentHash' ? HASH : LEAST;
    this.hash = lb.consistentHash;
    this.slowStartMs = lb.slowStartMs;
    this.session = t?.sessionPersistence;
    const hc: IRHealthCheck | undefined = t?.healthCheck;
    this.panicThreshold = hc?.panicThreshold ?? 50;
    if (t?.policy && (hc?.passive || hc?.active || lb.slowStartMs > 0)) {
      this.state = healthState(`${t.policy}|${route.id}|${ref.backend}`);
      this.records = this.state.adopt(this.all.map((m) => m.address));
      if (hc?.active) this.releaseCheck = acquireActiveCheck(this.state, hc.active, cluster.ir, this.all.map((m) => m.endpoint));
    }
    if (!this.state) this.rebuild();
  }

  /** The outlier-detection record of a replica (undefined without health checking). */
  health(member: Member): EndpointHealth | undefined {
    return this.state?.get(member.address);
  }

  get healthState(): HealthState | undefined {
    return this.state;
  }

  /** Replicas in rotation by their health (not counting panic mode): 0 sends a rule's traffic to its fallback Backends. */
  healthyCount(): number {
    const s = this.state;
    if (s === undefined) return this.all.length;
    if (s.nextExpiry !== Infinity && Date.now() >= s.nextExpiry) s.sweep(Date.now());
    if (s.version !== this.seen) this.rebuild();
    return this.healthy;
  }

  private rebuild(): void {
    const s = this.state;
    if (s) {
      this.seen = s.version;
      const live: Member[] = [];
      const recs: EndpointHealth[] = [];
      for (let i = 0; i < this.all.length; i++) {
        const r = this.records[i];
        if (r.ejected || r.activeFailed) continue;
        live.push(this.all[i]);
        recs.push(r);
      }
      this.healthy = live.length;
      // Panic: too few healthy replicas, balance over all of them.
      if (live.length * 100 < this.panicThreshold * this.all.length) {
        this.live = this.all as Member[];
        this.liveRecords = this.records;
      } else {
        this.live = live;
        this.liveRecords = recs;
      }
      this.slowUntil = 0;
      if (this.slowStartMs > 0) for (const r of this.liveRecords) if (r.since > 0) this.slowUntil = Math.max(this.slowUntil, r.since + this.slowStartMs);
    }
    if (this.kind === HASH) this.table = maglevTable(this.live.map((m) => m.address), this.hash?.tableSize ?? 65537);
  }

  /** The replica for this attempt; undefined when none is in rotation (503). */
  pick(req: BalanceInput): Member | undefined {
    const s = this.state;
    if (s !== undefined) {
      if (s.nextExpiry !== Infinity && Date.now() >= s.nextExpiry) s.sweep(Date.now());
      if (s.version !== this.seen) this.rebuild();
    }
    const live = this.live;
    const n = live.length;
    if (n === 0) return undefined;
    if (this.session !== undefined) {
      const m = this.sticky(req);
      if (m !== undefined) return m;
    }
    if (n === 1) return this.chosen(req, live[0]);
    switch (this.kind) {
      case RANDOM:
        return this.chosen(req, live[(Math.random() * n) | 0]);
      case HASH:
        return this.chosen(req, this.byHash(req));
      case RR:
        if (this.slowUntil > 0 && Date.now() < this.slowUntil) return this.chosen(req, this.weightedRandom());
        return this.chosen(req, live[this.rr++ % n]);
      default:
        return this.chosen(req, this.leastRequest());
    }
  }

  /** Session persistence: name the replica on the answer when the request did not come with a valid one. */
  private chosen(req: BalanceInput, m: Member): Member {
    if (this.session !== undefined) {
      const now = Date.now();
      setSession(req, this.session, m.address, now, now);
    }
    return m;
  }

  /** The replica (in rotation) a request's session token names, and when the session began. */
  private sessionOf(headers: Record<string, string | string[] | undefined>, now: number): { member: Member; started: number } | undefined {
    const sp = this.session!;
    const raw = sp.type === 'Cookie' ? cookieValue(headers.cookie, sp.name) : headers[sp.name];
    if (typeof raw !== 'string' || raw === '') return undefined;
    const session = decodeSession(raw, sp, now);
    if (session === undefined) return undefined;
    for (const m of this.live) if (m.address === session.address) return { member: m, started: session.started };
    return undefined; // the replica left rotation: a new one is picked and named
  }

  /** Whether the request's session names a replica of this backend in rotation (a traffic split keeps the session on its backend). */
  holdsSession(headers: Record<string, string | string[] | undefined>): boolean {
    if (this.session === undefined) return false;
    const s = this.state;
    if (s !== undefined && s.version !== this.seen) this.rebuild();
    return this.sessionOf(headers, Date.now()) !== undefined;
  }

  private sticky(req: BalanceInput): Member | undefined {
    const sp = this.session!;
    const now = Date.now();
    const session = this.sessionOf(req.headers as Record<string, string | string[] | undefined>, now);
    if (session === undefined) return undefined;
    // The session goes on: with an idle timeout, its token is renewed on every answer.
    if (sp.idleTimeoutMs > 0) setSession(req, sp, session.member.address, session.started, now);
    return session.member;
  }

  private weight(r: EndpointHealth, now: number): number {
    if (r.since === 0) return 1;
    const e = now - r.since;
    if (e >= this.slowStartMs) return 1;
    return Math.max(MIN_SLOW_WEIGHT, e / this.slowStartMs);
  }

  private weightedRandom(): Member {
    const now = Date.now();
    let total = 0;
    for (const r of this.liveRecords) total += this.weight(r, now);
    let x = Math.random() * total;
    for (let i = 0; i < this.live.length; i++) {
      x -= this.weight(this.liveRecords[i], now);
      if (x < 0) return this.live[i];
    }
    return this.live[this.live.length - 1];
  }

  private leastRequest(): Member {
    const live = this.live;
    const n = live.length;
    const slow = this.slowUntil > 0 && Date.now() < this.slowUntil;
    const now = slow ? Date.now() : 0;
    if (n > P2C_ABOVE && !slow) {
      const a = live[(Math.random() * n) | 0];
      const b = live[(Math.random() * n) | 0];
      return b.active < a.active ? b : a;
    }
    const start = this.rr++ % n;
    let best = live[start];
    let bestScore = slow ? this.weight(this.liveRecords[start], now) / (best.active + 1) : -best.active;
    for (let k = 1; k < n; k++) {
      const i = (start + k) % n;
      const m = live[i];
      const score = slow ? this.weight(this.liveRecords[i], now) / (m.active + 1) : -m.active;
      if (score > bestScore) {
        best = m;
        bestScore = score;
      }
    }
    return best;
  }

  private byHash(req: BalanceInput): Member {
    const ch = this.hash!;
    const headers = req.headers as Record<string, string | string[] | undefined>;
    let h = -1;
    if (ch.type === 'SourceIP') {
      if (req.source) h = fnv1a(req.source);
    } else if (ch.type === 'Cookie') {
      const c = ch.cookie!;
      const raw = headers.cookie;
      if (typeof raw === 'string') h = cookieHash(raw, c.name);
      else if (Array.isArray(raw)) for (let i = 0; i < raw.length && h < 0; i++) h = cookieHash(raw[i], c.name);
      if (h < 0 && c.ttlMs !== undefined) {
        // Envoy generates the cookie when absent and a ttl is set; this request hashes on the generated value.
        const value = randomBytes(8).toString('hex');
        h = fnv1a(value);
        let cookie = `${c.name}=${value}`;
        if (c.ttlMs > 0) cookie += `; Max-Age=${Math.floor(c.ttlMs / 1000)}`;
        cookie += '; HttpOnly';
        for (const k in c.attributes) cookie += `; ${k}=${c.attributes[k]}`;
        req.attempt.stickyName = 'set-cookie';
        req.attempt.stickyValue = cookie;
      }
    } else {
      let any = false;
      let acc = 0x811c9dc5;
      for (const name of ch.headers) {
        const v = headers[name];
        if (typeof v === 'string') {
          acc = fnv1a(v, acc);
          any = true;
        } else if (Array.isArray(v)) {
          for (const x of v) acc = fnv1a(x, acc);
          any = v.length > 0;
        }
      }
      if (any) h = acc;
    }
    const live = this.live;
    if (h < 0) return live[(Math.random() * live.length) | 0];
    const t = this.table!;
    return live[t[h % t.length]];
  }

  close(): void {
    this.releaseCheck?.();
    this.own?.close();
  }
}

/**
 * The session's token for a replica: base64url of "host:port;start;last use"
 * (ms), so that absoluteTimeout and idleTimeout hold for header sessions too,
 * where no cookie expiry helps.
 */
function encodeSession(address: string, started: number, now: number): string {
  return Buffer.from(`${address};${started};${now}`).toString('base64url');
}

/** A token's replica, and when its session started; undefined when it is malformed or timed out. */
function decodeSession(value: string, sp: IRSessionPersistence, now: number): { address: string; started: number } | undefined {
  const raw = Buffer.from(value, 'base64url').toString('utf8');
  const a = raw.indexOf(';');
  const b = raw.indexOf(';', a + 1);
  if (a <= 0 || b < 0) return undefined;
  const started = Number(raw.slice(a + 1, b));
  const last = Number(raw.slice(b + 1));
  if (!Number.isFinite(started) || !Number.isFinite(last)) return undefined;
  if (sp.absoluteTimeoutMs > 0 && now - started > sp.absoluteTimeoutMs) return undefined;
  if (sp.idleTimeoutMs > 0 && now - last > sp.idleTimeoutMs) return undefined;
  return { address: raw.slice(0, a), started };
}

function setSession(req: BalanceInput, sp: IRSessionPersistence, address: string, started: number, now: number): void {
  const token = encodeSession(address, started, now);
  if (sp.type === 'Header') {
    req.attempt.stickyName = sp.name;
    req.attempt.stickyValue = token;
    return;
  }
  let cookie = `${sp.name}=${token}; Path=${sp.path}; HttpOnly`;
  // Permanent cookies carry their lifetime; session cookies (the default) none.
  if (sp.permanent) {
    const ttl = sp.absoluteTimeoutMs > 0 ? sp.absoluteTimeoutMs : sp.idleTimeoutMs;
    if (ttl > 0) cookie += `; Max-Age=${Math.floor(ttl / 1000)}`;
  }
  req.attempt.stickyName = 'set-cookie';
  req.attempt.stickyValue = cookie;
}
