// The Istio family's filter configs: plain JSON that translate/istio produces
// and src/filters/istio-*.ts compile. Here so that translate never imports filter code.
import type { JwksConfig } from './jwt.ts';
import type { ExtAuthzConfig } from './ext-authz.ts';

export const ISTIO_REQUEST_AUTHENTICATION = 'istio.requestAuthentication';
export const ISTIO_AUTHORIZATION = 'istio.authorization';

/** One jwtRule, normalized by translate (plain JSON: it lives in the IR). */
export interface IstioJwtRule {
  /** "RequestAuthentication/ns/name". */
  origin: string;
  /** Index in that policy's spec.jwtRules. */
  ruleIndex: number;
  /** Absent: any issuer (allowed by Istio when jwksUri is set). */
  issuer?: string;
  audiences: string[];
  jwks: JwksConfig;
  /** Lowercase names. Translate writes Envoy's defaults out when no location is given. */
  fromHeaders: { name: string; prefix: string }[];
  fromParams: string[];
  fromCookies: string[];
  /** Lowercase. */
  outputPayloadToHeader?: string;
  forwardOriginalToken: boolean;
  /** Lowercase header names; claim is a dotted path. */
  outputClaimToHeaders: { header: string; claim: string }[];
  /** Claims split on spaces in the identity's claims (always "scope" and "permission"). */
  spaceDelimitedClaims: string[];
}

export interface IstioRequestAuthenticationConfig {
  /** In Istio's provider order (by issuer). */
  rules: IstioJwtRule[];
}

/** Request attributes a condition can test, in Istio's names (hosts/methods/paths get request.*). */
export type IstioAttribute =
  | 'source.ip' | 'remote.ip' | 'source.namespace' | 'source.principal' | 'source.serviceAccount'
  | 'request.auth.principal' | 'request.auth.audiences' | 'request.auth.presenter' | 'request.auth.claims'
  | 'request.headers' | 'request.host' | 'request.method' | 'request.path'
  | 'destination.ip' | 'destination.port' | 'connection.sni';

/** One field of a source/operation, or one `when` condition: any of values, and none of notValues. */
export interface IstioCondition {
  key: IstioAttribute;
  /** Lowercase header name (request.headers). */
  header?: string;
  /** Claim path (request.auth.claims), e.g. ["realm_access", "roles"]. */
  claim?: string[];
  /** Already validated; for source.serviceAccount as "namespace/name". */
  values: string[];
  notValues: string[];
}

export interface IstioRule {
  /** Index in spec.rules (for the trace). */
  index: number;
  /** Any entry must match (each entry: all its conditions); null = any source. */
  from: IstioCondition[][] | null;
  /** Any entry must match; null = any operation. */
  to: IstioCondition[][] | null;
  when: IstioCondition[];
}

export interface IstioPolicy {
  /** "AuthorizationPolicy/ns/name". */
  origin: string;
  rules: IstioRule[];
  /** Set when load errors changed what the policy does (shown in the trace). */
  degraded?: string;
}

export interface IstioAuthorizationConfig {
  /** The hop these policies select, for the trace: "Gateway/ns/name", "Service/ns/name". */
  hop: string;
  custom?: { provider: ExtAuthzConfig; policies: IstioPolicy[] };
  deny: IstioPolicy[];
  /** null when no ALLOW policy applies: whatever is not denied is allowed. */
  allow: IstioPolicy[] | null;
  audit: IstioPolicy[];
  /** istio.io/dry-run policies: evaluated and recorded, never enforced. */
  dryRun: { deny: IstioPolicy[]; allow: IstioPolicy[] | null };
}
