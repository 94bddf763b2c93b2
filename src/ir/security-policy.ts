// Filter configs of the Envoy Gateway SecurityPolicy family (translate writes
// them, src/filters compiles them). Plain JSON: they travel in the IR, to
// workers and to admin /config (where fields named like credentials are redacted).
import type { JwksConfig } from './jwt.ts';
import type { ExtAuthzConfig } from './ext-authz.ts';

/** A stored password or API key hash (src/auth/credentials/hashes.ts reads and checks them). */
export type StoredHash =
  | { kind: 'sha1'; digestB64: string }
  | { kind: 'sha256'; digestHex: string }
  | { kind: 'bcrypt'; hash: string };

export interface CorsConfig {
  /** Some origin pattern is "*". */
  anyOrigin: boolean;
  /** Origins without "*", as written. */
  exact: string[];
  /** Origin patterns containing "*", as written. */
  patterns: string[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  /** Seconds. */
  maxAgeSeconds: number;
  allowCredentials: boolean;
}

export interface ApiKeyAuthConfig {
  /** In Secret order; the first entry for a client id (and for a key) wins. */
  credentials: { clientId: string; hash: StoredHash }[];
  /** Header names lowercase. */
  extractFrom: { headers: string[]; params: string[]; cookies: string[] }[];
  /** Lowercase, or undefined. */
  forwardClientIDHeader?: string;
  sanitize: boolean;
}

export interface BasicAuthConfig {
  /** user → stored hash (only {SHA} and bcrypt reach the IR). */
  passwordHashes: { user: string; hash: StoredHash }[];
  /** Lowercase header name, or undefined. */
  forwardUsernameHeader?: string;
}

export interface EgJwtProviderConfig {
  name: string;
  issuer?: string;
  audiences: string[];
  jwks: JwksConfig;
  /** Lowercase header names. */
  claimToHeaders: { header: string; claim: string }[];
  /** Lowercase header names. */
  fromHeaders: { name: string; prefix: string }[];
  fromParams: string[];
  fromCookies: string[];
  /** After this provider verified the token, the route is chosen again with the claim headers. */
  recomputeRoute?: boolean;
}

export interface EgJwtConfig {
  providers: EgJwtProviderConfig[];
  optional: boolean;
}

export type EgAuthorizationAction = 'Allow' | 'Deny';

export interface EgAuthorizationRule {
  /** The rule's name, or "rules[i]". */
  name: string;
  action: EgAuthorizationAction;
  methods?: string[];
  clientCIDRs?: string[];
  jwt?: { provider: string; claims: { name: string; valueType: 'String' | 'StringArray'; values: string[] }[]; scopes: string[] };
  /** Lowercase names. */
  headers?: { name: string; values: string[] }[];
}

export interface EgAuthorizationConfig {
  defaultAction: EgAuthorizationAction;
  rules: EgAuthorizationRule[];
}

export interface EgExtAuthConfig {
  service: ExtAuthzConfig;
  /** After an allow, the route is chosen again with the headers the authorizer set. */
  recomputeRoute?: boolean;
}

export type AnyOfMethod =
  | { type: 'apiKeyAuth'; config: ApiKeyAuthConfig }
  | { type: 'basicAuth'; config: BasicAuthConfig }
  | { type: 'jwt'; config: EgJwtConfig };

export interface AnyOfAuthenticationConfig {
  methods: AnyOfMethod[];
}

/** Portcullis extension (Kong's bot-detection): User-Agent rules, RE2 patterns searched in the header. */
export interface BotDetectionConfig {
  /** Apply the built-in list of crawlers and scripted clients (src/filters/bot-detection.ts). */
  builtInRules: boolean;
  /** A User-Agent matching one of these is never a bot (wins over deny and the built-in list). */
  allow: string[];
  /** A User-Agent matching one of these is a bot. */
  deny: string[];
}
