// Process-wide sharing of providers and remote key sources, by configuration.
// Two compiled filters (two routes, or two snapshots) with the same provider
// configuration share one provider — and so one token cache — and every
// provider using the same JWKS URI shares one fetched key set.
import type { JwksSource } from './jwks-source.ts';
import { createJwksSource, JwtProvider, type JwtProviderConfig } from './provider.ts';
import { SharedRegistry, type Lease } from './shared.ts';

/** Unused objects are kept this long, so a reload that closes before it compiles keeps its state. */
export const DEFAULT_LINGER_MS = 60_000;

export const jwksSources = new SharedRegistry<JwksSource>((s) => s.dispose(), DEFAULT_LINGER_MS);
export const jwtProviders = new SharedRegistry<JwtProvider>((p) => p.dispose(), DEFAULT_LINGER_MS);

/** JSON with sorted object keys: equal configurations give equal keys. */
export function stableKey(v: unknown): string {
  return JSON.stringify(v, (_k, val: unknown) => {
    if (typeof val !== 'object' || val === null || Array.isArray(val)) return val;
    const sorted: Record<string, unknown> = {};
    for (const k of Object.keys(val).sort()) sorted[k] = (val as Record<string, unknown>)[k];
    return sorted;
  });
}

/** A shared provider for this configuration; release the lease when the compiled filter closes. */
export function acquireJwtProvider(config: JwtProviderConfig): Lease<JwtProvider> {
  return jwtProviders.acquire(stableKey(config), () => {
    if (config.jwks.type === 'inline') return new JwtProvider(config);
    const jwks = config.jwks;
    const sourceLease = jwksSources.acquire(stableKey(jwks), () => createJwksSource(jwks));
    return new JwtProvider(config, { sourceLease });
  });
}
