// One JWT provider: an issuer, its audiences and its key source, with a cache
// of verification results. Front-door agnostic: Istio's RequestAuthentication
// and Envoy Gateway's SecurityPolicy jwt both verify through this class.
//
// Check order follows Envoy's jwt_authn (authenticator.cc): format → issuer →
// time (exp/nbf with skew) → audience → signature. It decides which error a
// bad token gets (an expired token with a bad signature is "expired").
import { audienceChecker, deepFreeze, splitSpaceDelimited } from './claims.ts';
import { candidateKeys, type KeySet } from './keys.ts';
import { InlineJwksSource, RemoteJwksSource, type JwksSource } from './jwks-source.ts';
import { parseJwt, type ParsedJwt } from './parse.ts';
import type { Lease } from './shared.ts';
import { verifySignature } from './signature.ts';
import { isStableFailure, type JwtFailure } from './status.ts';
import { TokenCache } from './token-cache.ts';

/** Where the keys come from (plain data: it lives in the IR). */
export type { JwksConfig, RemoteTuning } from '../../ir/jwt.ts';
import type { JwksConfig } from '../../ir/jwt.ts';

export interface JwtProviderConfig {
  /** Required `iss`. Undefined accepts any issuer (Istio ≥ 1.27 allows this with a jwksUri). */
  issuer?: string;
  /** Any one of these must be in `aud`; empty = no audience check. */
  audiences?: readonly string[];
  jwks: JwksConfig;
  /** Envoy's default is 60 s. */
  clockSkewSeconds?: number;
  /** Claims split on spaces in VerifiedJwt.claims (Istio: "scope", "permission"). */
  spaceDelimitedClaims?: readonly string[];
  /** Verified tokens kept (refused ones have their own, smaller cache). */
  cacheSize?: number;
}

export interface VerifiedJwt {
  token: string;
  issuer: string;
  subject: string | undefined;
  audiences: readonly string[];
  /** `azp`. */
  presenter: string | undefined;
  /** "<iss>/<sub>": Istio's request principal. */
  principal: string;
  /** The payload as sent (deep-frozen: it is shared through the cache). */
  payload: Readonly<Record<string, unknown>>;
  /** The payload with space-delimited claims split into lists: what authorization matches. */
  claims: Readonly<Record<string, unknown>>;
  /** The payload segment (base64url), for outputPayloadToHeader. */
  payloadSegment: string;
  /** Epoch ms after which the token is expired (exp + skew); Infinity without exp. */
  validUntilMs: number;
}

export type VerifyResult =
  | { ok: true; jwt: VerifiedJwt }
  | { ok: false; failure: JwtFailure; /** Secret-free extra for the trace (e.g. why the JWKS fetch failed). */ detail?: string };

export interface JwtProviderOptions {
  /** Test seam; defaults to Date.now. */
  clock?: () => number;
  /** A source to use instead of building one from config.jwks (the caller keeps ownership). */
  source?: JwksSource;
  /** A shared source lease to release on dispose. */
  sourceLease?: Lease<JwksSource>;
}

export const DEFAULT_CLOCK_SKEW_SECONDS = 60;
export const DEFAULT_CACHE_SIZE = 1024;
/** Tokens without exp are re-verified this often, so key rotation reaches them. */
export const NO_EXP_CACHE_MS = 300_000;
/** Stable refusals (bad signature, expired, …) are remembered this long… */
export const NEGATIVE_CACHE_MS = 10_000;
/** …in a cache of their own, so a flood of bad tokens cannot evict verified ones… */
export const NEGATIVE_CACHE_SIZE = 256;
/** …and only for tokens of ordinary size, so the flood cannot pin much memory either. */
export const NEGATIVE_CACHE_MAX_TOKEN = 4096;

export function createJwksSource(jwks: JwksConfig, clock?: () => number): JwksSource {
  switch (jwks.type) {
    case 'inline':
      return new InlineJwksSource(jwks.jwks);
    case 'remote':
      return new RemoteJwksSource({ ...jwks, uri: jwks.uri, clock });
    case 'discovery':
      return new RemoteJwksSource({ ...jwks, discoveryIssuer: jwks.issuer, clock });
  }
}

export class JwtProvider {
  readonly issuer: string | undefined;
  readonly source: JwksSource;
  readonly #now: () => number;
  readonly #skewMs: number;
  readonly #skewS: number;
  readonly #audienceOk: (aud: readonly string[]) => boolean;
  readonly #spaceDelimited: readonly string[];
  readonly #cache: TokenCache<VerifyResult & { ok: true }>;
  readonly #refused = new TokenCache<VerifyResult & { ok: false }>(NEGATIVE_CACHE_SIZE);
  readonly #ownsSource: boolean;
  readonly #lease: Lease<JwksSource> | undefined;

  constructor(config: JwtProviderConfig, opts: JwtProviderOptions = {}) {
    this.issuer = config.issuer;
    this.#now = opts.clock ?? Date.now;
    this.#skewS = config.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS;
    this.#skewMs = this.#skewS * 1000;
    this.#audienceOk = audienceChecker(config.audiences ?? []);
    this.#spaceDelimited = config.spaceDelimitedClaims ?? [];
    this.#cache = new TokenCache(config.cacheSize ?? DEFAULT_CACHE_SIZE);
    this.#lease = opts.sourceLease;
    this.source = opts.sourceLease?.value ?? opts.source ?? createJwksSource(config.jwks, opts.clock);
    this.#ownsSource = !opts.sourceLease && !opts.source;
  }

  /** Whether a token with this `iss` is for this provider. */
  acceptsIssuer(iss: string): boolean {
    return this.issuer === undefined || this.issuer === iss;
  }

  now(): number {
    return this.#now();
  }

  /** The cached result for this token, if any. Synchronous, allocation-free: the hot path. */
  lookup(token: string, nowMs: number): VerifyResult | undefined {
    return this.#cache.get(token, nowMs) ?? this.#refused.get(token, nowMs);
  }

  /** Cache, else parse and verify. A Promise only when keys must be fetched first. */
  verify(token: string, nowMs: number = this.#now()): VerifyResult | Promise<VerifyResult> {
    const hit = this.lookup(token, nowMs);
    if (hit !== undefined) return hit;
    // Parse failures are cheaper to find again than to remember.
    const p = parseJwt(token);
    if (!p.ok) return { ok: false, failure: p.failure };
    return this.verifyParsed(p.jwt, nowMs);
  }

  /** Verify an already parsed token (the multi-provider selector parses once). */
  verifyParsed(jwt: ParsedJwt, nowMs: number): VerifyResult | Promise<VerifyResult> {
    if (!this.acceptsIssuer(jwt.iss)) return this.#remember(jwt.token, { ok: false, failure: 'JwtUnknownIssuer' }, nowMs);
    const nowS = Math.floor(nowMs / 1000);
    if (nowS + this.#skewS < jwt.nbf) return { ok: false, failure: 'JwtNotYetValid' };
    if (jwt.exp !== 0 && nowS > jwt.exp + this.#skewS) return this.#remember(jwt.token, { ok: false, failure: 'JwtExpired' }, nowMs);
    if (!this.#audienceOk(jwt.audiences)) return this.#remember(jwt.token, { ok: false, failure: 'JwtAudienceNotAllowed' }, nowMs);

    const keys = this.source.keys(nowMs);
    if (keys !== undefined) {
      const r = this.#checkSignature(jwt, keys, nowMs);
      if (r !== undefined) return r;
      // No key for this kid/alg: the issuer may have rotated. Refetch, rate-limited by the source.
      const refetch = this.source.refresh(nowMs, 'unknown-kid');
      if (refetch === undefined) return { ok: false, failure: 'JwksKidAlgMismatch' };
      return refetch.then(() => this.#afterFetch(jwt, nowMs));
    }
    const fetching = this.source.refresh(nowMs, 'missing');
    if (fetching === undefined) return this.#noKeys();
    return fetching.then(() => this.#afterFetch(jwt, nowMs));
  }

  /** Release the key source (shared sources are released, owned ones disposed). */
  dispose(): void {
    this.#cache.clear();
    this.#refused.clear();
    if (this.#lease) this.#lease.release();
    else if (this.#ownsSource) this.source.dispose();
  }

  #afterFetch(jwt: ParsedJwt, nowMs: number): VerifyResult {
    const keys = this.source.keys(nowMs);
    if (keys === undefined) return this.#noKeys();
    return this.#checkSignature(jwt, keys, nowMs) ?? { ok: false, failure: 'JwksKidAlgMismatch' };
  }

  #noKeys(): VerifyResult {
    const detail = this.source.lastError();
    const failure: JwtFailure = this.source instanceof InlineJwksSource ? 'JwksNoValidKeys' : 'JwksFetchFail';
    return detail === undefined ? { ok: false, failure } : { ok: false, failure, detail };
  }

  /** undefined when no key fits the token's kid/alg. */
  #checkSignature(jwt: ParsedJwt, keys: KeySet, nowMs: number): VerifyResult | undefined {
    const candidates = candidateKeys(keys, jwt.alg, jwt.kid);
    if (candidates.length === 0) return undefined;
    for (const k of candidates) {
      if (verifySignature(k, jwt.alg, jwt.signingInput, jwt.signature)) return this.#verified(jwt, nowMs);
    }
    return this.#remember(jwt.token, { ok: false, failure: 'JwtVerificationFail' }, nowMs);
  }

  #verified(jwt: ParsedJwt, nowMs: number): VerifyResult {
    const payload = deepFreeze(jwt.claims);
    const claims = deepFreeze(splitSpaceDelimited(payload, this.#spaceDelimited));
    const azp = payload.azp;
    const validUntilMs = jwt.exp === 0 ? Number.POSITIVE_INFINITY : jwt.exp * 1000 + this.#skewMs;
    const result: VerifyResult & { ok: true } = {
      ok: true,
      jwt: Object.freeze({
        token: jwt.token,
        issuer: jwt.iss,
        subject: jwt.sub,
        audiences: Object.freeze(jwt.audiences.slice()),
        presenter: typeof azp === 'string' ? azp : undefined,
        principal: `${jwt.iss}/${jwt.sub ?? ''}`,
        payload,
        claims,
        payloadSegment: jwt.payloadSegment,
        validUntilMs,
      }),
    };
    // Never served past exp (+ skew): the cache entry dies with the token.
    this.#cache.set(jwt.token, result, Math.min(validUntilMs, nowMs + NO_EXP_CACHE_MS));
    return result;
  }

  #remember(token: string, r: VerifyResult & { ok: false }, nowMs: number): VerifyResult {
    if (isStableFailure(r.failure) && token.length <= NEGATIVE_CACHE_MAX_TOKEN) this.#refused.set(token, r, nowMs + NEGATIVE_CACHE_MS);
    return r;
  }
}
