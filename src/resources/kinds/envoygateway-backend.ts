// Backend (gateway.envoyproxy.io/v1alpha1, api/v1alpha1/backend_types.go and
// the generated CRD in charts/gateway-helm/crds).
import { type Schema, type Static, obj, arr, str, int, oneOfValues, specResourceSchema, BOOLEAN, STRING, DNS1123_SUBDOMAIN_PATTERN, patterned } from './common.ts';
import { GROUP, KIND, OBJECT_NAME } from './gatewayapi-types.ts';
import { list, has } from './check-helpers.ts';
import type { ValidationIssue } from './issues.ts';

const BACKEND_HOSTNAME = patterned(253, DNS1123_SUBDOMAIN_PATTERN, 'a lowercase hostname such as "backend.example.com"');

const BACKEND_PORT = int(0, 65535, 'a port number from 0 to 65535');

const IP_ADDRESS = str({
  minLength: 3,
  maxLength: 45,
  pattern:
    '^((25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)\\.){3}(25[0-5]|2[0-4][0-9]|[01]?[0-9][0-9]?)$|^(([0-9a-fA-F]{1,4}:){1,7}[0-9a-fA-F]{1,4}|::|(([0-9a-fA-F]{1,4}:){0,5})?(:[0-9a-fA-F]{1,4}){1,2})$',
  description: 'an IPv4 or IPv6 address',
});

const ENDPOINT = obj({
  fqdn: obj({ hostname: BACKEND_HOSTNAME, port: BACKEND_PORT }, ['hostname', 'port']),
  ip: obj({ address: IP_ADDRESS, port: BACKEND_PORT }, ['address', 'port']),
  unix: obj({ path: STRING }, ['path']),
  hostname: BACKEND_HOSTNAME,
  zone: STRING,
});

// The CRD's LocalObjectReference (from the Gateway API version Envoy Gateway
// vendors) still lists group as required.
const CA_REF = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME }, ['group', 'kind', 'name']);

const BACKEND_SPEC = obj({
  type: oneOfValues(['Endpoints', 'DynamicResolver']),
  endpoints: arr(ENDPOINT, { minItems: 1, maxItems: 64 }),
  appProtocols: arr(oneOfValues(['gateway.envoyproxy.io/h2c', 'gateway.envoyproxy.io/ws', 'gateway.envoyproxy.io/wss'])),
  fallback: BOOLEAN,
  tls: obj({
    caCertificateRefs: arr(CA_REF, { maxItems: 8 }),
    wellKnownCACertificates: oneOfValues(['System']),
    insecureSkipVerify: BOOLEAN,
    sni: BACKEND_HOSTNAME,
  }),
});

export type BackendSpec = Static<typeof BACKEND_SPEC>;

export const backendSchema: Schema = specResourceSchema(BACKEND_SPEC);

const ADDRESS_KINDS = ['fqdn', 'ip', 'unix'] as const;

export function checkBackend(be: any, out: ValidationIssue[]): void {
  const spec = be.spec ?? {};
  if (spec.type === 'DynamicResolver' && has(spec, 'endpoints')) {
    out.push({ path: ['spec', 'endpoints'], message: 'DynamicResolver type cannot have endpoints specified' });
  }
  const endpoints = list(spec.endpoints);
  endpoints.forEach((ep, i) => {
    const at = ['spec', 'endpoints', i];
    const set = ADDRESS_KINDS.filter((k) => has(ep, k));
    if (set.length === 0) out.push({ path: at, message: 'one of fqdn, ip or unix must be specified' });
    else if (set.length > 1) out.push({ path: at, message: `only one of fqdn, ip or unix can be specified (got ${set.join(' and ')})` });
    if (has(ep, 'unix') && [...String(ep.unix.path)].length > 108) {
      out.push({ path: [...at, 'unix', 'path'], message: 'unix domain socket path must not exceed 108 characters' });
    }
  });
  const fqdn = endpoints.filter((ep) => has(ep, 'fqdn')).length;
  if (fqdn > 0 && fqdn < endpoints.length) {
    out.push({ path: ['spec', 'endpoints'], message: 'fqdn addresses cannot be mixed with other address types' });
  }
  const tls = spec.tls;
  const hasCARefs = list(tls?.caCertificateRefs).length > 0;
  const hasWellKnown = has(tls, 'wellKnownCACertificates') && tls.wellKnownCACertificates !== '';
  if (hasCARefs && hasWellKnown) {
    out.push({ path: ['spec', 'tls'], message: 'must not contain both caCertificateRefs and wellKnownCACertificates' });
  }
  if (tls?.insecureSkipVerify === true && (hasCARefs || hasWellKnown)) {
    out.push({ path: ['spec', 'tls'], message: 'must not contain either caCertificateRefs or wellKnownCACertificates when insecureSkipVerify is enabled' });
  }
}
