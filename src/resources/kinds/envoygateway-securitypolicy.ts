// SecurityPolicy (gateway.envoyproxy.io/v1alpha1): api/v1alpha1/
// securitypolicy_types.go, api_key_auth_types.go, basic_auth_types.go,
// jwt_types.go, cors_types.go, authorization_types.go, ext_auth_types.go, and
// the CRD's CEL rules. `spec.portcullis` is Portcullis's own extension
// (any-of authentication, bot detection); everything else is Envoy Gateway's.
import { type Schema, type Static, obj, arr, str, int, oneOfValues, specResourceSchema, typed, BOOLEAN, STRING } from './common.ts';
import { BACKEND_OBJECT_REFERENCE, GROUP, KIND, OBJECT_NAME, SECRET_OBJECT_REFERENCE } from './gatewayapi-types.ts';
import { POLICY_TARGET_FIELDS, checkPolicyTargets } from './envoygateway-policy-targets.ts';
import { checkUniqueBy, has, isIPOrCIDR, list, parseGoDuration } from './check-helpers.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';
import { regexError } from '../../match/regex.ts';

const NON_EMPTY = str({ minLength: 1 });
const NAMES = arr(NON_EMPTY, { minItems: 1 });
/** metav1.Duration: a Go duration such as "10s", "1h30m". */
const GO_DURATION = str({ minLength: 1, maxLength: 64, description: 'a duration such as "10s", "5m" or "1h"' });

const API_KEY_AUTH = obj(
  {
    credentialRefs: arr(SECRET_OBJECT_REFERENCE, { minItems: 1 }),
    extractFrom: arr(obj({ headers: NAMES, params: NAMES, cookies: NAMES }), { minItems: 1 }),
    forwardClientIDHeader: NON_EMPTY,
    sanitize: BOOLEAN,
  },
  ['credentialRefs', 'extractFrom'],
);

const BASIC_AUTH = obj({ users: SECRET_OBJECT_REFERENCE, forwardUsernameHeader: NON_EMPTY }, ['users']);

const CORS = obj({
  allowOrigins: arr(str({ minLength: 1, maxLength: 253 })),
  allowMethods: arr(NON_EMPTY),
  allowHeaders: arr(NON_EMPTY),
  exposeHeaders: arr(NON_EMPTY),
  maxAge: GO_DURATION,
  allowCredentials: BOOLEAN,
});

/** Connection settings for a backend (ClusterSettings): accepted, not all of them applied. */
const BACKEND_SETTINGS = typed<Record<string, unknown>>({ type: 'object' });

const BACKEND_CLUSTER_FIELDS = {
  backendRef: BACKEND_OBJECT_REFERENCE,
  backendRefs: arr(obj({ group: GROUP, kind: KIND, name: OBJECT_NAME, namespace: STRING, port: int(1, 65535), weight: int(0, 1_000_000) }, ['name'])),
  backendSettings: BACKEND_SETTINGS,
};

const JWT_PROVIDER = obj(
  {
    name: str({ minLength: 1, maxLength: 253 }),
    issuer: str({ maxLength: 253 }),
    audiences: arr(STRING, { maxItems: 8 }),
    remoteJWKS: obj({ uri: str({ minLength: 1, maxLength: 253 }), cacheDuration: GO_DURATION, ...BACKEND_CLUSTER_FIELDS }, ['uri']),
    localJWKS: obj({
      type: oneOfValues(['Inline', 'ValueRef']),
      inline: NON_EMPTY,
      valueRef: obj({ group: GROUP, kind: KIND, name: OBJECT_NAME }, ['kind', 'name']),
    }),
    claimToHeaders: arr(obj({ header: NON_EMPTY, claim: NON_EMPTY }, ['header', 'claim'])),
    recomputeRoute: BOOLEAN,
    extractFrom: obj({
      headers: arr(obj({ name: NON_EMPTY, valuePrefix: STRING }, ['name'])),
      cookies: arr(NON_EMPTY),
      params: arr(NON_EMPTY),
    }),
  },
  ['name'],
);

const JWT = obj({ optional: BOOLEAN, providers: arr(JWT_PROVIDER, { minItems: 1, maxItems: 4 }) }, ['providers']);

const EXT_AUTH = obj({
  grpc: obj({ ...BACKEND_CLUSTER_FIELDS }),
  http: obj({ ...BACKEND_CLUSTER_FIELDS, path: STRING, headersToBackend: arr(NON_EMPTY) }),
  headersToExtAuth: arr(NON_EMPTY),
  bodyToExtAuth: obj({ maxRequestBytes: int(1, 1 << 30) }, ['maxRequestBytes']),
  failOpen: BOOLEAN,
  recomputeRoute: BOOLEAN,
  timeout: GO_DURATION,
  contextExtensions: arr(typed<Record<string, unknown>>({ type: 'object' })),
});

const ACTION = oneOfValues(['Allow', 'Deny']);

const AUTHORIZATION = obj({
  defaultAction: ACTION,
  rules: arr(
    obj(
      {
        name: str({ minLength: 1, maxLength: 253 }),
        action: ACTION,
        operation: obj({ methods: arr(oneOfValues(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']), { minItems: 1, maxItems: 16 }) }, ['methods']),
        principal: obj({
          clientCIDRs: arr(NON_EMPTY, { minItems: 1 }),
          jwt: obj(
            {
              provider: str({ minLength: 1, maxLength: 253 }),
              claims: arr(obj({ name: str({ minLength: 1, maxLength: 253 }), valueType: oneOfValues(['String', 'StringArray']), values: arr(STRING, { minItems: 1, maxItems: 16 }) }, ['name', 'values']), { minItems: 1, maxItems: 16 }),
              scopes: arr(str({ minLength: 1, maxLength: 253 }), { minItems: 1, maxItems: 16 }),
            },
            ['provider'],
          ),
          headers: arr(obj({ name: str({ minLength: 1, maxLength: 256 }), values: arr(STRING, { minItems: 1, maxItems: 256 }) }, ['name', 'values']), { minItems: 1, maxItems: 256 }),
        }),
      },
      ['action', 'principal'],
    ),
  ),
});

/** Portcullis's own extension: any-of authentication and bot detection. */
export const PORTCULLIS_EXTENSION = obj({
  authentication: obj({ mode: oneOfValues(['AllOf', 'AnyOf']) }),
  botDetection: obj({
    builtInRules: BOOLEAN,
    allow: arr(str({ minLength: 1, maxLength: 1024 })),
    deny: arr(str({ minLength: 1, maxLength: 1024 })),
  }),
});

const SECURITY_POLICY_SPEC = obj({
  ...POLICY_TARGET_FIELDS,
  apiKeyAuth: API_KEY_AUTH,
  basicAuth: BASIC_AUTH,
  cors: CORS,
  jwt: JWT,
  // OIDC belongs to its own issue: the field is accepted and reported as not served.
  oidc: typed<Record<string, unknown>>({ type: 'object' }),
  extAuth: EXT_AUTH,
  authorization: AUTHORIZATION,
  portcullis: PORTCULLIS_EXTENSION,
});

/** The spec as translate reads it, once validated. */
export type SecurityPolicySpec = Static<typeof SECURITY_POLICY_SPEC>;

export const securityPolicySchema: Schema = specResourceSchema(SECURITY_POLICY_SPEC);

// --- semantic checks ---

/**
 * Envoy Gateway's Origin: "*", or http(s)://host[:port] where host may be "*"
 * or start with "*." and the port may be "*". Checked by hand: the CRD's regex
 * nests quantifiers and would backtrack on hostile input.
 */
export function originError(o: string): string | undefined {
  const msg = `must be "*" or an origin such as "https://www.example.com", "https://*.example.com" or "http://localhost:*" (got "${o}")`;
  if (o === '*') return undefined;
  const m = /^(https?):\/\/([^/:]+)(?::([^/]*))?$/.exec(o);
  if (!m) return msg;
  const [, , host, port] = m;
  if (port !== undefined && port !== '*' && !/^[0-9]{1,5}$/.test(port)) return msg;
  if (host === '*') return undefined;
  const name = host.startsWith('*.') ? host.slice(2) : host;
  if (!/^[\w-]+(\.[\w-]+)*\.?$/.test(name) || name.includes('*')) return msg;
  return undefined;
}

function checkDuration(v: unknown, path: FieldPath, out: ValidationIssue[]): void {
  if (typeof v === 'string' && parseGoDuration(v) === undefined) out.push({ path, message: `must be a duration such as "10s", "5m" or "1h" (got "${v}")` });
}

function checkBackendCluster(c: any, path: FieldPath, out: ValidationIssue[]): void {
  if (!has(c, 'backendRef') && list(c.backendRefs).length === 0) out.push({ path, message: 'backendRef or backendRefs must be set' });
}

export function checkSecurityPolicy(sp: any, out: ValidationIssue[]): void {
  const spec = sp.spec ?? {};
  checkPolicyTargets(spec, ['Gateway', 'HTTPRoute', 'GRPCRoute'], out);
  const at: FieldPath = ['spec'];

  if (has(spec, 'cors')) {
    list(spec.cors.allowOrigins).forEach((o, i) => {
      const e = originError(o);
      if (e) out.push({ path: [...at, 'cors', 'allowOrigins', i], message: e });
    });
    checkDuration(spec.cors.maxAge, [...at, 'cors', 'maxAge'], out);
  }

  const bots = spec.portcullis?.botDetection;
  if (bots !== undefined) {
    // RE2, as the router's regexes: no user pattern can stall the event loop.
    for (const field of ['allow', 'deny'] as const) {
      list(bots[field]).forEach((p, i) => {
        const e = typeof p === 'string' ? regexError(p) : undefined;
        if (e) out.push({ path: [...at, 'portcullis', 'botDetection', field, i], message: e });
      });
    }
  }

  if (has(spec, 'apiKeyAuth')) {
    list(spec.apiKeyAuth.extractFrom).forEach((e, i) => {
      const n = ['headers', 'params', 'cookies'].filter((k) => has(e, k)).length;
      if (n !== 1) out.push({ path: [...at, 'apiKeyAuth', 'extractFrom', i], message: 'exactly one of headers, params, or cookies must be specified' });
    });
  }

  if (has(spec, 'jwt')) {
    const providers = list(spec.jwt.providers);
    checkUniqueBy(providers, (p) => p.name, [...at, 'jwt', 'providers'], 'name', (n, j) => `duplicate provider name "${n}" (also providers[${j}])`, out);
    providers.forEach((p, i) => {
      const path: FieldPath = [...at, 'jwt', 'providers', i];
      const sources = ['remoteJWKS', 'localJWKS'].filter((k) => has(p, k));
      if (sources.length !== 1) out.push({ path, message: 'exactly one of remoteJWKS or localJWKS must be specified' });
      if (p.recomputeRoute === true && list(p.claimToHeaders).length === 0) out.push({ path, message: 'claimToHeaders must be specified if recomputeRoute is enabled' });
      if (has(p, 'remoteJWKS')) {
        const uri = String(p.remoteJWKS.uri);
        let scheme = '';
        try {
          scheme = new URL(uri).protocol;
        } catch {
          scheme = '';
        }
        if (scheme !== 'http:' && scheme !== 'https:') out.push({ path: [...path, 'remoteJWKS', 'uri'], message: `must be an http:// or https:// URL (got "${uri}")` });
        checkDuration(p.remoteJWKS.cacheDuration, [...path, 'remoteJWKS', 'cacheDuration'], out);
      }
      if (has(p, 'localJWKS')) {
        const l = p.localJWKS;
        const type = l.type ?? 'Inline';
        if (type === 'Inline' && !has(l, 'inline')) out.push({ path: [...path, 'localJWKS'], message: 'inline must be set for type Inline' });
        if (type === 'ValueRef' && !has(l, 'valueRef')) out.push({ path: [...path, 'localJWKS'], message: 'valueRef must be set for type ValueRef' });
        if (has(l, 'valueRef') && l.valueRef.kind !== 'ConfigMap') out.push({ path: [...path, 'localJWKS', 'valueRef', 'kind'], message: 'only ConfigMap is supported for valueRef' });
      }
      checkUniqueBy(list(p.claimToHeaders), (c) => String(c.header).toLowerCase(), [...path, 'claimToHeaders'], 'header', (h, j) => `duplicate header "${h}" (also claimToHeaders[${j}])`, out);
    });
  }

  if (has(spec, 'extAuth')) {
    const e = spec.extAuth;
    const kinds = ['grpc', 'http'].filter((k) => has(e, k));
    if (kinds.length !== 1) out.push({ path: [...at, 'extAuth'], message: 'exactly one of grpc or http must be specified' });
    if (has(e, 'grpc')) checkBackendCluster(e.grpc, [...at, 'extAuth', 'grpc'], out);
    if (has(e, 'http')) checkBackendCluster(e.http, [...at, 'extAuth', 'http'], out);
    checkDuration(e.timeout, [...at, 'extAuth', 'timeout'], out);
  }

  if (has(spec, 'authorization')) {
    const providers = new Set(list(spec.jwt?.providers).map((p) => p.name));
    list(spec.authorization.rules).forEach((r, i) => {
      const path: FieldPath = [...at, 'authorization', 'rules', i, 'principal'];
      const p = r.principal ?? {};
      if (!has(p, 'clientCIDRs') && !has(p, 'jwt') && !has(p, 'headers')) out.push({ path, message: 'at least one of clientCIDRs, jwt, or headers must be specified' });
      list(p.clientCIDRs).forEach((c, j) => {
        if (!isIPOrCIDR(c)) out.push({ path: [...path, 'clientCIDRs', j], message: `must be a CIDR range such as "192.168.1.0/24" or "2001:db8::/64" (got "${c}")` });
      });
      if (has(p, 'jwt')) {
        if (!has(p.jwt, 'claims') && !has(p.jwt, 'scopes')) out.push({ path: [...path, 'jwt'], message: 'at least one of claims or scopes must be specified' });
        if (!providers.has(p.jwt.provider)) out.push({ path: [...path, 'jwt', 'provider'], message: `no JWT provider "${p.jwt.provider}" in this SecurityPolicy's jwt.providers` });
      }
    });
  }
}
