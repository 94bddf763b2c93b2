// Types shared by the Gateway API kinds (sigs.k8s.io/gateway-api apis/v1
// shared_types.go, object_reference_types.go), with the validation markers of
// the standard + experimental CRDs.
import { obj, arr, set, map, str, int, typed, oneOfValues, DNS1123_SUBDOMAIN_PATTERN, DNS1123_LABEL_PATTERN, type Schema, patterned } from './common.ts';

export const GROUP = str({
  maxLength: 253,
  pattern: `^$|${DNS1123_SUBDOMAIN_PATTERN}`,
  description: 'an API group: empty for the core group, or a DNS subdomain such as "gateway.networking.k8s.io"',
});

export const KIND = patterned(
  63,
  '^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$',
  'a kind such as "Service" (letters, digits and "-", starting with a letter)',
);

export const OBJECT_NAME = str({ minLength: 1, maxLength: 253 });

export const NAMESPACE = patterned(
  63,
  DNS1123_LABEL_PATTERN,
  'a namespace name (lowercase RFC 1123 label, at most 63 characters)',
);

export const SECTION_NAME = patterned(
  253,
  DNS1123_SUBDOMAIN_PATTERN,
  'a section name (lowercase letters, digits, "-" and ".", starting and ending with a letter or digit)',
);

/** Gateway API's Hostname: a lowercase DNS name, optionally a "*." wildcard. */
export const HOSTNAME_PATTERN = '^(\\*\\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';

export const HOSTNAME = patterned(
  253,
  HOSTNAME_PATTERN,
  'a lowercase hostname such as "api.example.com", optionally starting with "*." (no port, no trailing dot)',
);

export const PRECISE_HOSTNAME = patterned(
  253,
  DNS1123_SUBDOMAIN_PATTERN,
  'a lowercase hostname such as "api.example.com" (no wildcard, no port)',
);

export const PORT_NUMBER = int(1, 65535, 'a port number from 1 to 65535');

/** GEP-2257 duration: a strict subset of Go's time.ParseDuration syntax. */
export const DURATION = str({
  pattern: '^([0-9]{1,5}(h|m|s|ms)){1,4}$',
  description: 'a duration such as "10s", "1m30s" or "500ms" (1 to 4 numbers of at most 5 digits, each followed by h, m, s or ms)',
});

export const HEADER_NAME = patterned(
  256,
  "^[A-Za-z0-9!#$%&'*+\\-.^_\\x60|~]+$",
  'an HTTP header name (letters, digits and !#$%&\'*+-.^_`|~)',
);

// The experimental CRD's pattern is ^[!-~]+([\t ]?[!-~]+)*$ — the optional
// separator makes it backtrack exponentially on a mismatch. Dropping the `?`
// accepts exactly the same strings (adjacent runs merge) in linear time.
export const HEADER_VALUE = patterned(
  4096,
  '^[!-~]+([\\t ][!-~]+)*$',
  'printable US-ASCII, optionally separated by single spaces or tabs',
);

export const ANNOTATION_KEY = str({
  minLength: 1,
  maxLength: 253,
  // Upstream writes `\\.` inside a Go raw string (a literal backslash); the
  // intent, and what every example uses, is a dot.
  pattern: `^(${DNS1123_SUBDOMAIN_PATTERN.slice(1, -1)}/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$`,
  description: 'a key such as "example.com/my-option" (optional DNS prefix and "/", then a name of at most 63 characters)',
});

export const ANNOTATION_VALUE = str({ maxLength: 4096 });

export const LABEL_KEY = ANNOTATION_KEY;
export const LABEL_VALUE = str({
  maxLength: 63,
  pattern: '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$',
  description: 'a label value (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, or empty)',
});

export const GATEWAY_CONTROLLER = patterned(
  253,
  `^${DNS1123_SUBDOMAIN_PATTERN.slice(1, -1)}\\/[A-Za-z0-9\\/\\-._~%!$&'()*+,;=:]+$`,
  'a domain-prefixed path such as "example.net/gateway-controller"',
);

export const PARENT_REFERENCE = obj(
  { group: GROUP, kind: KIND, namespace: NAMESPACE, name: OBJECT_NAME, sectionName: SECTION_NAME, port: PORT_NUMBER },
  ['name'],
);

export const PARENT_REFS = arr(PARENT_REFERENCE, { maxItems: 32 });

export const BACKEND_OBJECT_REFERENCE = obj(
  { group: GROUP, kind: KIND, name: OBJECT_NAME, namespace: NAMESPACE, port: PORT_NUMBER },
  ['name'],
);

/** Properties of BackendRef (BackendObjectReference + weight), to extend with `filters`. */
export const BACKEND_REF_PROPERTIES = {
  group: GROUP,
  kind: KIND,
  name: OBJECT_NAME,
  namespace: NAMESPACE,
  port: PORT_NUMBER,
  weight: int(0, 1_000_000, 'a weight from 0 to 1000000'),
};

export const LOCAL_OBJECT_REFERENCE = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME }, ['kind', 'name']);

export const SECRET_OBJECT_REFERENCE = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME, namespace: NAMESPACE }, ['name']);

export const OBJECT_REFERENCE = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME, namespace: NAMESPACE }, ['group', 'kind', 'name']);

export const HTTP_HEADER = obj({ name: HEADER_NAME, value: HEADER_VALUE }, ['name', 'value']);

export const HTTP_HEADER_FILTER = obj({
  set: arr(HTTP_HEADER, { maxItems: 16 }),
  add: arr(HTTP_HEADER, { maxItems: 16 }),
  remove: set(str({}), { maxItems: 16 }),
});

export const FRACTION = obj(
  { numerator: typed<number>({ type: 'integer', minimum: 0 }), denominator: typed<number>({ type: 'integer', minimum: 1 }) },
  ['numerator'],
);

export const HTTP_REQUEST_MIRROR_FILTER = obj(
  { backendRef: BACKEND_OBJECT_REFERENCE, percent: int(0, 100, 'a percentage from 0 to 100'), fraction: FRACTION },
  ['backendRef'],
);

export const SESSION_PERSISTENCE = obj({
  sessionName: str({ maxLength: 128 }),
  absoluteTimeout: DURATION,
  idleTimeout: DURATION,
  type: oneOfValues(['Cookie', 'Header']),
  cookieConfig: obj({ lifetimeType: oneOfValues(['Permanent', 'Session']) }),
});

export const HOSTNAMES = arr(HOSTNAME, { maxItems: 16 });

/**
 * A route kind's filter and filter list (at most 16): `type`, one of `types`,
 * names which one of the configuration `fields` is set (checkFilterUnion).
 */
export function routeFilterSchemas<const T extends readonly string[], P extends Record<string, Schema<any>>>(types: T, fields: P) {
  const filter = obj({ type: oneOfValues(types), ...fields }, ['type']);
  return { filter, filters: arr(filter, { maxItems: 16 }) };
}

export const LABEL_MAP_8 = map(LABEL_VALUE, LABEL_KEY, { maxProperties: 8 });
export const ANNOTATION_MAP_16 = map(ANNOTATION_VALUE, ANNOTATION_KEY, { maxProperties: 16 });
