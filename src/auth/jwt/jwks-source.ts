// Where verification keys come from: an inline JWKS, a JWKS URI, or an issuer's
// OpenID discovery document. A source answers "which keys now?" synchronously;
// fetching happens behind it, deduplicated, rate-limited and time-bounded, so a
// dead or hostile endpoint costs one timed-out fetch per backoff period and
// fails closed only for the issuers that use it.
import { fetchJson } from './fetch.ts';
import type { JwksVia } from '../../ir/jwt.ts';
import { importJwks, type KeySet } from './keys.ts';

export interface JwksSource {
  /** For traces and status: "inline JWKS", the URI, or the discovery URL. Never a key. */
  readonly description: string;
  /** Keys usable now, or undefined. May start a background refresh of stale keys. */
  keys(nowMs: number): KeySet | undefined;
  /**
   * Start or join a fetch. Undefined when there is nothing to fetch or a fetch
   * is not allowed yet (cooldown after a fetch, backoff after a failure).
   * The promise never rejects.
   */
  refresh(nowMs: number, reason: RefreshReason): Promise<void> | undefined;
  /** Why the last fetch failed, if it did (no secrets: a status or an error code). */
  lastError(): string | undefined;
  dispose(): void;
}

/** 'unknown-kid': a token names a key we do not have; 'missing': we have no usable keys at all. */
export type RefreshReason = 'unknown-kid' | 'missing' | 'expired';

export class InlineJwksSource implements JwksSource {
  readonly description = 'inline JWKS';
  readonly #set: KeySet | undefined;
  readonly #error: string | undefined;

  constructor(jwks: string) {
    const r = importJwks(jwks);
    this.#set = r.ok ? r.set : undefined;
    this.#error = r.ok ? undefined : r.reason;
  }

  keys(): KeySet | undefined {
    return this.#set;
  }

  refresh(): undefined {
    return undefined;
  }

  lastError(): string | undefined {
    return this.#error;
  }

  dispose(): void {}
}

export interface RemoteJwksOptions {
  /** JWKS URI; when absent, `discoveryIssuer` is required. */
  uri?: string;
  /** Issuer whose "/.well-known/openid-configuration" names the jwks_uri (Istio's default). */
  discoveryIssuer?: string;
  /** Bound on one fetch (discovery + JWKS share it). Istio's default is 5 s. */
  timeoutMs: number;
  /** Keys count as fresh this long after a successful fetch (Istio: 5 min). */
  cacheDurationMs: number;
  /** Least time between fetches asked for by unknown kids. */
  cooldownMs?: number;
  /** Least time between attempts after a failed one. */
  failureBackoffMs?: number;
  /** How long past freshness the last good keys still serve while refreshes fail. */
  maxStaleMs?: number;
  /** Test seam for time; defaults to Date.now. */
  clock?: () => number;
  /** Fetch through a backendRef's endpoints (SecurityPolicy remoteJWKS.backendRefs). */
  via?: JwksVia;
}

export interface RemoteJwksStats {
  fetches: number;
  failures: number;
  keyCount: number;
  fetchedAtMs: number | undefined;
  lastError: string | undefined;
}

export const DEFAULT_COOLDOWN_MS = 30_000;
export const DEFAULT_FAILURE_BACKOFF_MS = 1_000;
export const DEFAULT_MAX_STALE_MS = 3_600_000;

/** "<issuer>/.well-known/openid-configuration", without doubling a trailing slash. */
export function discoveryUrl(issuer: string): string {
  return `${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`;
}

function isHttpUrl(s: unknown): s is string {
  if (typeof s !== 'string') return false;
  try {
    const u = new URL(s);
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

export class RemoteJwksSource implements JwksSource {
  readonly description: string;
  readonly #opts: Required<Omit<RemoteJwksOptions, 'uri' | 'discoveryIssuer' | 'clock' | 'via'>>;
  readonly #uri: string | undefined;
  readonly #discovery: string | undefined;
  readonly #now: () => number;
  readonly #via: JwksVia | undefined;
  readonly #abort = new AbortController();
  #discovered: string | undefined;
  #set: KeySet | undefined;
  #fetchedAt = 0;
  #lastAttemptAt = Number.NEGATIVE_INFINITY;
  #lastFailed = false;
  #lastError: string | undefined;
  #inflight: Promise<void> | undefined;
  #fetches = 0;
  #failures = 0;

  constructor(opts: RemoteJwksOptions) {
    if (!opts.uri && !opts.discoveryIssuer) throw new Error('RemoteJwksSource needs a uri or a discoveryIssuer');
    this.#uri = opts.uri;
    this.#discovery = opts.uri ? undefined : discoveryUrl(opts.discoveryIssuer as string);
    this.description = this.#uri ?? `discovery ${this.#discovery}`;
    this.#now = opts.clock ?? Date.now;
    this.#via = opts.via;
    this.#opts = {
      timeoutMs: opts.timeoutMs,
      cacheDurationMs: opts.cacheDurationMs,
      cooldownMs: opts.cooldownMs ?? DEFAULT_COOLDOWN_MS,
      failureBackoffMs: opts.failureBackoffMs ?? DEFAULT_FAILURE_BACKOFF_MS,
      maxStaleMs: opts.maxStaleMs ?? DEFAULT_MAX_STALE_MS,
    };
  }

  keys(nowMs: number): KeySet | undefined {
    const set = this.#set;
    if (set === undefined) return undefined;
    const age = nowMs - this.#fetchedAt;
    if (age < this.#opts.cacheDurationMs) return set;
    if (age < this.#opts.cacheDurationMs + this.#opts.maxStaleMs) {
      // Stale but usable: serve it and refresh behind the request.
      this.refresh(nowMs, 'expired');
      return set;
    }
    return undefined;
  }

  refresh(nowMs: number, reason: RefreshReason): Promise<void> | undefined {
    if (this.#inflight) return this.#inflight;
    if (this.#abort.signal.aborted) return undefined;
    const since = nowMs - this.#lastAttemptAt;
    if (this.#lastFailed) {
      if (since < this.#opts.failureBackoffMs) return undefined;
    } else if (reason === 'unknown-kid' && since < this.#opts.cooldownMs) {
      return undefined;
    }
    this.#lastAttemptAt = nowMs;
    this.#fetches++;
    const p = this.#fetch().then(
      () => {},
      () => {},
    );
    this.#inflight = p.finally(() => {
      this.#inflight = undefined;
    });
    return this.#inflight;
  }

  lastError(): string | undefined {
    return this.#lastError;
  }

  stats(): RemoteJwksStats {
    return {
      fetches: this.#fetches,
      failures: this.#failures,
      keyCount: this.#set?.keys.length ?? 0,
      fetchedAtMs: this.#set ? this.#fetchedAt : undefined,
      lastError: this.#lastError,
    };
  }

  dispose(): void {
    this.#abort.abort();
  }

  #failed(reason: string): void {
    this.#lastFailed = true;
    this.#lastError = reason;
    this.#failures++;
  }

  async #fetch(): Promise<void> {
    const deadline = this.#now() + this.#opts.timeoutMs;
    const signal = this.#abort.signal;
    let uri = this.#uri ?? this.#discovered;
    if (uri === undefined) {
      const d = await fetchJson(this.#discovery as string, { timeoutMs: this.#opts.timeoutMs, signal });
      if (!d.ok) return this.#failed(`OpenID discovery: ${d.reason}`);
      const found = (d.value as { jwks_uri?: unknown } | null)?.jwks_uri;
      if (!isHttpUrl(found)) return this.#failed('OpenID discovery: no valid jwks_uri');
      uri = found;
    }
    const r = await fetchJson(uri, { timeoutMs: Math.max(1, deadline - this.#now()), signal, via: this.#via });
    if (!r.ok) {
      // A discovered URI that stopped working may have moved: discover again next time.
      this.#discovered = undefined;
      return this.#failed(r.reason);
    }
    const imported = importJwks(r.value);
    if (!imported.ok) {
      this.#discovered = undefined;
      return this.#failed(imported.reason);
    }
    if (this.#uri === undefined) this.#discovered = uri;
    this.#set = imported.set;
    this.#fetchedAt = this.#now();
    this.#lastFailed = false;
    this.#lastError = undefined;
  }
}
