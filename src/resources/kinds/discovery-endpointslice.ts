// discovery.k8s.io/v1 EndpointSlice. Its fields sit at the top level, not
// under `spec`.
import { type Schema, obj, arr, map, str, int, oneOfValues, resourceSchema, BOOLEAN, STRING, DNS1123_LABEL, DNS1123_SUBDOMAIN_PATTERN } from './common.ts';
import { isIP } from 'node:net';
import { list, checkUniqueBy } from './check-helpers.ts';
import type { ValidationIssue } from './issues.ts';

const OBJECT_REFERENCE: Schema = obj({
  kind: STRING,
  namespace: STRING,
  name: STRING,
  uid: STRING,
  apiVersion: STRING,
  resourceVersion: STRING,
  fieldPath: STRING,
});

const ENDPOINT: Schema = obj(
  {
    addresses: arr(STRING, { minItems: 1, maxItems: 100 }),
    conditions: obj({ ready: BOOLEAN, serving: BOOLEAN, terminating: BOOLEAN }),
    hostname: DNS1123_LABEL,
    targetRef: OBJECT_REFERENCE,
    nodeName: STRING,
    zone: STRING,
    hints: obj({
      forZones: arr(obj({ name: STRING }, ['name']), { maxItems: 8 }),
      forNodes: arr(obj({ name: STRING }, ['name']), { maxItems: 8 }),
    }),
    deprecatedTopology: map(STRING),
  },
  ['addresses'],
);

const ENDPOINT_PORT: Schema = obj({
  name: str({ maxLength: 63, pattern: '^([a-z0-9]([-a-z0-9]*[a-z0-9])?)?$', description: 'a port name (lowercase RFC 1123 label) or empty' }),
  protocol: oneOfValues(['TCP', 'UDP', 'SCTP']),
  port: int(0, 65535, 'a port number from 0 to 65535'),
  appProtocol: STRING,
});

export const endpointSliceSchema: Schema = resourceSchema({
  fields: {
    addressType: oneOfValues(['IPv4', 'IPv6', 'FQDN']),
    endpoints: arr(ENDPOINT, { maxItems: 1000 }),
    ports: arr(ENDPOINT_PORT, { maxItems: 20000 }),
  },
  required: ['addressType', 'endpoints'],
});

const FQDN = new RegExp(DNS1123_SUBDOMAIN_PATTERN);

export function checkEndpointSlice(slice: any, out: ValidationIssue[]): void {
  const type = slice.addressType;
  list(slice.endpoints).forEach((ep, i) => {
    list<string>(ep.addresses).forEach((a, j) => {
      const ok = type === 'IPv4' ? isIP(a) === 4 : type === 'IPv6' ? isIP(a) === 6 : a.length <= 253 && FQDN.test(a);
      if (!ok) {
        const what = type === 'FQDN' ? 'a lowercase DNS name' : `an ${type} address`;
        out.push({ path: ['endpoints', i, 'addresses', j], message: `must be ${what} for addressType ${type} (got "${a}")` });
      }
    });
  });
  checkUniqueBy(list(slice.ports), (p) => p.name ?? '', ['ports'], 'name', (n, j) => `duplicate port name "${n}" (also ports[${j}])`, out);
}
