// One SecurityPolicy's spec → its IR filters, translated once per policy
// (every route rule it wins gets the same filters). Secrets, ConfigMaps and
// authorization services are resolved here; whatever cannot be resolved makes
// the policy invalid, and its routes answer 500 (never unprotected).
import type { IRFilter } from '../../ir/types.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { namespaceOf, resourceKey } from '../../resources/types.ts';
import { secretValue, type ResourceIndex } from '../index-resources.ts';
import { referenceAllowed } from '../reference-grant.ts';
import { resolveBackendRef } from '../backends.ts';
import { parseGoDuration } from '../../resources/kinds/check-helpers.ts';
import { parseHtpasswdHash, parseStoredApiKey } from '../../auth/credentials/hashes.ts';
import type { AnyOfMethod, ApiKeyAuthConfig, BasicAuthConfig, CorsConfig, EgAuthorizationConfig, EgExtAuthConfig, EgJwtConfig, EgJwtProviderConfig, StoredHash } from '../../ir/security-policy.ts';
import type { JwksConfig, JwksVia } from '../../ir/jwt.ts';
import type { ExtAuthzEndpoint } from '../../ir/ext-authz.ts';
import type { SecurityPolicySpec } from '../../resources/kinds/envoygateway-securitypolicy.ts';

/** A backend reference of a JWKS or an authorizer (backendRef, or an entry of backendRefs). */
type BackendCluster = NonNullable<NonNullable<SecurityPolicySpec['extAuth']>['http']>;
type BackendRef = NonNullable<BackendCluster['backendRef']> | NonNullable<BackendCluster['backendRefs']>[number];

export interface PolicyTranslation {
  filters: IRFilter[];
  /** Why the policy cannot be enforced (its routes answer 500). */
  invalid?: string;
  /** Fields accepted but not (fully) served: said in the status, never ignored silently. */
  notServed: string[];
}

/** Envoy Gateway's defaults. */
export const DEFAULT_CORS_MAX_AGE_S = 86_400;
export const DEFAULT_JWKS_CACHE_MS = 300_000;
export const DEFAULT_EXT_AUTH_TIMEOUT_MS = 10_000;
const JWKS_FETCH_TIMEOUT_MS = 5_000;

class Invalid extends Error {}

type SecretRef = { group?: string; kind?: string; name: string; namespace?: string };

function lookupSecret(idx: ResourceIndex, policy: LoadedResource, ref: SecretRef, field: string): LoadedResource {
  const ns = namespaceOf(policy.resource);
  const kind = ref.kind ?? 'Secret';
  if ((ref.group ?? '') !== '' || kind !== 'Secret') throw new Invalid(`${field}: only core Secrets are supported (got ${ref.group ? `${ref.group}/` : ''}${kind})`);
  const target = ref.namespace ?? ns;
  if (target !== ns && !referenceAllowed(idx, { group: 'gateway.envoyproxy.io', kind: 'SecurityPolicy', namespace: ns }, { group: '', kind: 'Secret', namespace: target, name: ref.name })) {
    throw new Invalid(`${field}: Secret ${target}/${ref.name} is in another namespace and no ReferenceGrant allows it`);
  }
  const secret = idx.get('Secret', target, ref.name);
  if (!secret) throw new Invalid(`${field}: Secret ${target}/${ref.name} not found`);
  return secret;
}

function secretKeys(secret: LoadedResource): string[] {
  return [...new Set([...Object.keys(secret.resource.data ?? {}), ...Object.keys(secret.resource.stringData ?? {})])].sort();
}

function corsFilter(c: NonNullable<SecurityPolicySpec['cors']>): CorsConfig {
  const origins = c.allowOrigins ?? [];
  const maxAge = c.maxAge !== undefined ? Math.floor((parseGoDuration(c.maxAge) ?? 0) / 1000) : DEFAULT_CORS_MAX_AGE_S;
  return {
    anyOrigin: origins.some((o) => o === '*'),
    exact: origins.filter((o) => !o.includes('*')),
    patterns: origins.filter((o) => o !== '*' && o.includes('*')),
    allowMethods: c.allowMethods ?? [],
    allowHeaders: c.allowHeaders ?? [],
    exposeHeaders: c.exposeHeaders ?? [],
    maxAgeSeconds: maxAge,
    allowCredentials: c.allowCredentials ?? false,
  };
}

function apiKeyFilter(idx: ResourceIndex, policy: LoadedResource, a: NonNullable<SecurityPolicySpec['apiKeyAuth']>): ApiKeyAuthConfig {
  const credentials: { clientId: string; hash: StoredHash }[] = [];
  a.credentialRefs.forEach((ref, i) => {
    const secret = lookupSecret(idx, policy, ref, `apiKeyAuth.credentialRefs[${i}]`);
    const keys = secretKeys(secret);
    if (keys.length === 0) throw new Invalid(`apiKeyAuth.credentialRefs[${i}]: Secret ${namespaceOf(secret.resource)}/${ref.name} holds no API key (each data key is a client id, its value the key)`);
    for (const clientId of keys) {
      const v = secretValue(secret.resource, clientId) ?? '';
      if (v === '') throw new Invalid(`apiKeyAuth.credentialRefs[${i}]: Secret ${namespaceOf(secret.resource)}/${ref.name}: the key of client "${clientId}" is empty`);
      credentials.push({ clientId, hash: parseStoredApiKey(v) });
    }
  });
  return {
    credentials,
    extractFrom: a.extractFrom.map((e) => ({ headers: (e.headers ?? []).map((h) => h.toLowerCase()), params: e.params ?? [], cookies: e.cookies ?? [] })),
    forwardClientIDHeader: a.forwardClientIDHeader?.toLowerCase(),
    sanitize: a.sanitize ?? false,
  };
}

/** htpasswd text → entries; a malformed line names its number, never its content. */
export function parseHtpasswd(text: string, where: string): { user: string; hash: StoredHash }[] {
  const out: { user: string; hash: StoredHash }[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Invalid(`${where} line ${i + 1}: not "user:hash"`);
    const hash = parseHtpasswdHash(line.slice(colon + 1));
    if (typeof hash === 'string') throw new Invalid(`${where} line ${i + 1} (user ${line.slice(0, colon)}): ${hash}`);
    out.push({ user: line.slice(0, colon), hash });
  });
  if (out.length === 0) throw new Invalid(`${where}: no users`);
  return out;
}

function basicFilter(idx: ResourceIndex, policy: LoadedResource, b: NonNullable<SecurityPolicySpec['basicAuth']>): BasicAuthConfig {
  const secret = lookupSecret(idx, policy, b.users, 'basicAuth.users');
  const text = secretValue(secret.resource, '.htpasswd');
  const where = `basicAuth.users: Secret ${namespaceOf(secret.resource)}/${b.users.name}`;
  if (text === undefined) throw new Invalid(`${where} has no ".htpasswd" key`);
  return { passwordHashes: parseHtpasswd(text, `${where} .htpasswd`), forwardUsernameHeader: b.forwardUsernameHeader?.toLowerCase() };
}

function jwksOf(idx: ResourceIndex, policy: LoadedResource, p: NonNullable<SecurityPolicySpec['jwt']>['providers'][number], i: number, notServed: string[]): JwksConfig {
  const where = `jwt.providers[${i}]`;
  if (p.remoteJWKS) {
    const rj = p.remoteJWKS;
    const cache = rj.cacheDuration !== undefined ? parseGoDuration(rj.cacheDuration) ?? DEFAULT_JWKS_CACHE_MS : DEFAULT_JWKS_CACHE_MS;
    const refs = rj.backendRefs ?? (rj.backendRef ? [rj.backendRef] : []);
    const settings = backendSettingsOf(rj.backendSettings, `${where}.remoteJWKS.backendSettings`, notServed);
    if (refs.length === 0) {
      if (rj.backendSettings) notServed.push(`${where}.remoteJWKS.backendSettings (without backendRefs the keys are fetched from the uri's host directly)`);
      return { type: 'remote', uri: rj.uri, timeoutMs: JWKS_FETCH_TIMEOUT_MS, cacheDurationMs: cache };
    }
    return { type: 'remote', uri: rj.uri, timeoutMs: settings.requestTimeoutMs ?? JWKS_FETCH_TIMEOUT_MS, cacheDurationMs: cache, via: jwksVia(idx, policy, refs, `${where}.remoteJWKS`, settings) };
  }
  const l = p.localJWKS!;
  let text: string | undefined = l.inline;
  if ((l.type ?? 'Inline') === 'ValueRef') {
    const ns = namespaceOf(policy.resource);
    const cm = idx.get('ConfigMap', ns, l.valueRef!.name);
    if (!cm) throw new Invalid(`${where}.localJWKS.valueRef: ConfigMap ${ns}/${l.valueRef!.name} not found`);
    text = (cm.resource.data as Record<string, string> | undefined)?.jwks;
    if (text === undefined) throw new Invalid(`${where}.localJWKS.valueRef: ConfigMap ${ns}/${l.valueRef!.name} has no "jwks" key`);
  }
  try {
    const parsed = JSON.parse(text ?? '') as { keys?: unknown };
    if (!parsed || typeof parsed !== 'object' || !Array.isArray(parsed.keys)) throw new Error('no keys');
  } catch {
    throw new Invalid(`${where}.localJWKS: not a JSON Web Key Set (a JSON object with "keys")`);
  }
  return { type: 'inline', jwks: text! };
}

/** Envoy Gateway's ClusterSettings, as far as a JWKS fetch uses them; the rest is named in the status. */
interface FetchSettings {
  attempts: number;
  connectTimeoutMs?: number;
  requestTimeoutMs?: number;
}

/** EG's Retry.numRetries default when `retry` is given without it. */
const DEFAULT_NUM_RETRIES = 2;

function backendSettingsOf(bs: Record<string, unknown> | undefined, where: string, notServed: string[]): FetchSettings {
  const out: FetchSettings = { attempts: 1 };
  if (!bs) return out;
  for (const key of Object.keys(bs).sort()) {
    const v = bs[key] as Record<string, unknown> | undefined;
    if (key === 'retry' && v && typeof v === 'object') {
      const n = v.numRetries;
      out.attempts = 1 + (typeof n === 'number' && Number.isInteger(n) && n >= 0 ? Math.min(n, 10) : DEFAULT_NUM_RETRIES);
      for (const k of Object.keys(v)) if (k !== 'numRetries') notServed.push(`${where}.retry.${k}`);
    } else if (key === 'timeout' && v && typeof v === 'object') {
      const tcp = v.tcp as Record<string, unknown> | undefined;
      const http = v.http as Record<string, unknown> | undefined;
      const connect = typeof tcp?.connectTimeout === 'string' ? parseGoDuration(tcp.connectTimeout) : undefined;
      const request = typeof http?.requestTimeout === 'string' ? parseGoDuration(http.requestTimeout) : undefined;
      if (connect !== undefined && connect > 0) out.connectTimeoutMs = connect;
      if (request !== undefined && request > 0) out.requestTimeoutMs = request;
      for (const k of Object.keys(http ?? {})) if (k !== 'requestTimeout') notServed.push(`${where}.timeout.http.${k}`);
      for (const k of Object.keys(tcp ?? {})) if (k !== 'connectTimeout') notServed.push(`${where}.timeout.tcp.${k}`);
    } else {
      notServed.push(`${where}.${key}`);
    }
  }
  return out;
}

/** remoteJWKS.backendRefs, resolved as route backends are (Service or Backend, ReferenceGrant across namespaces). */
function jwksVia(idx: ResourceIndex, policy: LoadedResource, refs: BackendRef[], where: string, settings: FetchSettings): JwksVia {
  const from = { kind: 'SecurityPolicy', namespace: namespaceOf(policy.resource), group: 'gateway.envoyproxy.io' };
  const endpoints: { host: string; port: number }[] = [];
  let tls: JwksVia['tls'];
  refs.forEach((ref, i) => {
    const r = resolveBackendRef(idx, from, ref);
    if (!r.ok) throw new Invalid(`${where}.backendRefs[${i}]: ${r.message}`);
    for (const ep of r.backend.endpoints) if (ep.ready) endpoints.push({ host: ep.host, port: ep.port });
    tls ??= r.backend.tls;
  });
  // No ready endpoint is not a configuration error: the fetch fails and tokens get 401 until one is ready.
  return { endpoints, attempts: settings.attempts, ...(tls ? { tls } : {}), ...(settings.connectTimeoutMs ? { connectTimeoutMs: settings.connectTimeoutMs } : {}) };
}

function jwtFilter(idx: ResourceIndex, policy: LoadedResource, j: NonNullable<SecurityPolicySpec['jwt']>, notServed: string[]): EgJwtConfig {
  const providers: EgJwtProviderConfig[] = j.providers.map((p, i) => {
    return {
      name: p.name,
      issuer: p.issuer || undefined,
      audiences: p.audiences ?? [],
      jwks: jwksOf(idx, policy, p, i, notServed),
      claimToHeaders: (p.claimToHeaders ?? []).map((c) => ({ header: c.header.toLowerCase(), claim: c.claim })),
      fromHeaders: (p.extractFrom?.headers ?? []).map((h) => ({ name: h.name.toLowerCase(), prefix: h.valuePrefix ?? '' })),
      fromParams: p.extractFrom?.params ?? [],
      fromCookies: p.extractFrom?.cookies ?? [],
      ...(p.recomputeRoute ? { recomputeRoute: true } : {}),
    };
  });
  return { providers, optional: j.optional ?? false };
}

function authorizationFilter(a: NonNullable<SecurityPolicySpec['authorization']>): EgAuthorizationConfig {
  return {
    defaultAction: a.defaultAction ?? 'Deny',
    rules: (a.rules ?? []).map((r, i) => ({
      name: r.name ?? `rules[${i}]`,
      action: r.action,
      methods: r.operation?.methods,
      clientCIDRs: r.principal.clientCIDRs,
      jwt: r.principal.jwt && {
        provider: r.principal.jwt.provider,
        claims: (r.principal.jwt.claims ?? []).map((c) => ({ name: c.name, valueType: c.valueType ?? 'String', values: c.values })),
        scopes: r.principal.jwt.scopes ?? [],
      },
      headers: r.principal.headers?.map((h) => ({ name: h.name.toLowerCase(), values: h.values })),
    })),
  };
}

function extAuthFilter(idx: ResourceIndex, policy: LoadedResource, e: NonNullable<SecurityPolicySpec['extAuth']>, notServed: string[]): EgExtAuthConfig {
  const svc = e.http ?? e.grpc!;
  const field = e.http ? 'extAuth.http' : 'extAuth.grpc';
  const refs = svc.backendRefs ?? (svc.backendRef ? [svc.backendRef] : []);
  const endpoints: ExtAuthzEndpoint[] = [];
  const from = { kind: 'SecurityPolicy', namespace: namespaceOf(policy.resource), group: 'gateway.envoyproxy.io' };
  refs.forEach((ref, i) => {
    const r = resolveBackendRef(idx, from, ref);
    if (!r.ok) throw new Invalid(`${field}.backendRefs[${i}]: ${r.message}`);
    for (const ep of r.backend.endpoints) if (ep.ready) endpoints.push({ host: ep.host, port: ep.port });
  });
  if (endpoints.length === 0) throw new Invalid(`${field}: the authorization service has no ready endpoint`);
  // backendSettings: retry is served (the next endpoint); ext auth has its own timeout, the rest is named.
  const settings = backendSettingsOf(svc.backendSettings, `${field}.backendSettings`, notServed);
  if (settings.connectTimeoutMs !== undefined) notServed.push(`${field}.backendSettings.timeout.tcp.connectTimeout`);
  if (settings.requestTimeoutMs !== undefined) notServed.push(`${field}.backendSettings.timeout.http.requestTimeout (extAuth.timeout bounds a check)`);
  const common = {
    name: resourceKey(policy.resource),
    endpoints,
    timeoutMs: e.timeout !== undefined ? parseGoDuration(e.timeout) ?? DEFAULT_EXT_AUTH_TIMEOUT_MS : DEFAULT_EXT_AUTH_TIMEOUT_MS,
    failOpen: e.failOpen ?? false,
    // Envoy's ext_authz default status_on_error (Envoy Gateway does not set one).
    statusOnError: 403,
    ...(settings.attempts > 1 ? { retries: settings.attempts - 1 } : {}),
    // Envoy Gateway's with_request_body: maxRequestBytes only, so no partial
    // body (over the bound is 413, even with failOpen) and a UTF-8 body for gRPC.
    ...(e.bodyToExtAuth ? { includeBody: { maxBytes: e.bodyToExtAuth.maxRequestBytes, allowPartial: false, packAsBytes: false } } : {}),
  };
  const recompute = e.recomputeRoute ? { recomputeRoute: true } : {};
  if (e.grpc) return { service: { ...common, protocol: 'grpc' }, ...recompute };
  const exact = (names: readonly string[]) => names.map((n) => ({ kind: 'exact' as const, value: n.toLowerCase() }));
  return {
    service: {
      ...common,
      protocol: 'http',
      pathPrefix: e.http!.path ?? '',
      allowedHeaders: exact(e.headersToExtAuth ?? []),
      headersToAdd: [],
      allowedUpstreamHeaders: exact(e.http!.headersToBackend ?? []),
      allowedClientHeaders: [],
      allowedClientHeadersOnSuccess: [],
    },
    ...recompute,
  };
}

export function translateSecurityPolicy(idx: ResourceIndex, policy: LoadedResource, spec: SecurityPolicySpec): PolicyTranslation {
  const origin = resourceKey(policy.resource);
  const notServed: string[] = [];
  const filters: IRFilter[] = [];
  try {
    if (spec.oidc) throw new Invalid('oidc is not served yet by this version: the routes answer 500 rather than run without the login it asks for');
    if (spec.cors) filters.push({ type: 'cors', origin, config: corsFilter(spec.cors) });
    const bots = spec.portcullis?.botDetection;
    if (bots) filters.push({ type: 'botDetection', origin, config: { builtInRules: bots.builtInRules ?? true, allow: bots.allow ?? [], deny: bots.deny ?? [] } });
    if (spec.extAuth) filters.push({ type: 'extAuth', origin, config: extAuthFilter(idx, policy, spec.extAuth, notServed) });
    const methods: AnyOfMethod[] = [];
    if (spec.apiKeyAuth) methods.push({ type: 'apiKeyAuth', config: apiKeyFilter(idx, policy, spec.apiKeyAuth) });
    if (spec.basicAuth) methods.push({ type: 'basicAuth', config: basicFilter(idx, policy, spec.basicAuth) });
    if (spec.jwt) methods.push({ type: 'jwt', config: jwtFilter(idx, policy, spec.jwt, notServed) });
    if (spec.portcullis?.authentication?.mode === 'AnyOf' && methods.length > 1) {
      filters.push({ type: 'anyOfAuthentication', origin, config: { methods } });
    } else {
      for (const m of methods) {
        if (m.type === 'apiKeyAuth') filters.push({ type: 'apiKeyAuth', origin, config: m.config });
        else if (m.type === 'basicAuth') filters.push({ type: 'basicAuth', origin, config: m.config });
        else filters.push({ type: 'jwt', origin, config: m.config });
      }
    }
    if (spec.authorization) filters.push({ type: 'authorization', origin, config: authorizationFilter(spec.authorization) });
  } catch (err) {
    if (err instanceof Invalid) return { filters: [], invalid: err.message, notServed };
    throw err;
  }
  return { filters, notServed };
}
