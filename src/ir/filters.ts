// Every IR filter type and its config: the one table that ties translate
// (which writes configs), FILTER_ORDER (where each runs) and the filter
// registry (which compiles each) together. The compiler proves that every
// type here has a module (filters/registry.ts) and a chain slot
// (ir/filter-order.ts), and that a filter's config matches its type.
//
// A new filter is one line in IRFilterConfigs (docs/policy-families.md).
import type { IRHeaderModifier } from './types.ts';
import type { IstioAuthorizationConfig, IstioRequestAuthenticationConfig } from './istio.ts';
import type { IRRateLimit } from './rate-limit.ts';
import type { IRFaultInjection } from './fault-injection.ts';
import type { AnyOfAuthenticationConfig, ApiKeyAuthConfig, BasicAuthConfig, BotDetectionConfig, CorsConfig, EgAuthorizationConfig, EgExtAuthConfig, EgJwtConfig } from './security-policy.ts';

/** A policy that failed to translate: its routes answer 500 rather than run unprotected. */
export interface FailClosedConfig {
  reason: string;
}

/** Istio STRICT mTLS enforced per request. */
export interface MtlsPeerConfig {
  /** Which setting decided ("mtls.mode", "portLevelMtls[8443]"). */
  reason: string;
}

/** filter type → config. */
export interface IRFilterConfigs {
  failClosed: FailClosedConfig;
  mtlsPeer: MtlsPeerConfig;
  'istio.requestAuthentication': IstioRequestAuthenticationConfig;
  'istio.authorization': IstioAuthorizationConfig;
  requestHeaderModifier: IRHeaderModifier;
  responseHeaderModifier: IRHeaderModifier;
  faultInjection: IRFaultInjection;
  localRateLimit: IRRateLimit;
  globalRateLimit: IRRateLimit;
  // Envoy Gateway SecurityPolicy (src/ir/security-policy.ts)
  cors: CorsConfig;
  botDetection: BotDetectionConfig;
  extAuth: EgExtAuthConfig;
  anyOfAuthentication: AnyOfAuthenticationConfig;
  apiKeyAuth: ApiKeyAuthConfig;
  basicAuth: BasicAuthConfig;
  jwt: EgJwtConfig;
  authorization: EgAuthorizationConfig;
}

export type IRFilterType = keyof IRFilterConfigs;

/** One filter of a route's chain. `type` names a module in src/filters (see filters/registry.ts). */
export type IRFilter = {
  [T in IRFilterType]: {
    type: T;
    /** Which resource asked for it (for the decision trace and status). */
    origin: string;
    config: IRFilterConfigs[T];
  };
}[IRFilterType];

/** The filter of one type (for code that builds or reads one kind). */
export type IRFilterOf<T extends IRFilterType> = Extract<IRFilter, { type: T }>;
