// OpenAPI v3 documents (/openapi/v3 and /openapi/v3/{api|apis/group}/{version})
// generated from the same JSON schemas that validate resources, so that
// `kubectl explain` and kubectl's field validation read what the server enforces.
import { createHash } from 'node:crypto';
import { apiVersionOf, type KindInfo } from '../../resources/kinds/index.ts';
import { groups, hasStatus, kindsIn } from './discovery.ts';

/** Schema keywords OpenAPI 3.0 shares with JSON schema; everything else is left out. */
const KEEP = new Set([
  'type', 'properties', 'additionalProperties', 'items', 'required', 'enum', 'description', 'minimum', 'maximum',
  'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength', 'pattern', 'minItems', 'maxItems', 'uniqueItems',
  'minProperties', 'maxProperties', 'format', 'oneOf', 'anyOf', 'allOf', 'not', 'default', 'nullable',
]);

/** A draft-07 fragment as an OpenAPI 3.0 schema (no type unions, no propertyNames/const/if). */
export function toOpenApiSchema(s: unknown): unknown {
  if (Array.isArray(s)) return s.map(toOpenApiSchema);
  if (s === null || typeof s !== 'object') return s;
  const src = s as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(src)) {
    if (k.startsWith('x-')) out[k] = v;
    else if (!KEEP.has(k)) continue;
    else if (k === 'properties') out[k] = Object.fromEntries(Object.entries(v as Record<string, unknown>).map(([p, x]) => [p, toOpenApiSchema(x)]));
    else if (k === 'type' && Array.isArray(v)) continue; // a union: described by its other keywords, left untyped
    else if (k === 'additionalProperties' || k === 'items' || k === 'not') out[k] = typeof v === 'boolean' ? v : toOpenApiSchema(v);
    else if (k === 'oneOf' || k === 'anyOf' || k === 'allOf') out[k] = (v as unknown[]).map(toOpenApiSchema);
    else out[k] = v;
  }
  if ('const' in src) out.enum = [src.const];
  return out;
}

/** "io.istio.security.v1.AuthorizationPolicy", the way Kubernetes names definitions. */
export function definitionName(k: KindInfo, version: string): string {
  const group = k.group === '' ? 'io.k8s.api.core' : k.group.split('.').reverse().join('.');
  return `${group}.${version}.${k.kind}`;
}

function gvk(k: KindInfo, version: string) {
  return { group: k.group, version, kind: k.kind };
}

const JSON_BODY = (ref: string) => ({ content: { 'application/json': { schema: { $ref: ref } }, 'application/yaml': { schema: { $ref: ref } } } });
const STATUS_REF = '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.Status';
const q = (name: string, description: string, type = 'string') => ({ name, in: 'query', description, schema: { type }, uniqueItems: true });
const WRITE_PARAMS = [
  q('dryRun', 'not supported: any value other than empty is refused'),
  q('fieldManager', 'the name of the actor making the change'),
  q('fieldValidation', 'Strict (the only behaviour): unknown or duplicate fields are errors'),
];
const LIST_PARAMS = [
  q('labelSelector', 'equality (=, ==, !=) and set-based (in, notin, exists, !) requirements'),
  q('fieldSelector', 'metadata.name and metadata.namespace, with =, == or !='),
  q('limit', 'the most items in one page', 'integer'),
  q('continue', 'the token from the previous page'),
  q('resourceVersion', 'for watch: the version to start after'),
  q('watch', 'stream ADDED, MODIFIED and DELETED events', 'boolean'),
  q('timeoutSeconds', 'end a watch after this long', 'integer'),
];
const ERRORS = {
  '401': { description: 'Unauthorized', content: { 'application/json': { schema: { $ref: STATUS_REF } } } },
  '403': { description: 'Forbidden', content: { 'application/json': { schema: { $ref: STATUS_REF } } } },
};

function operation(k: KindInfo, version: string, action: string, ok: Record<string, unknown>, extra: Record<string, unknown> = {}) {
  return {
    operationId: `${action}${k.kind}`,
    tags: [apiVersionOf(k.group, version)],
    'x-kubernetes-action': action,
    'x-kubernetes-group-version-kind': gvk(k, version),
    responses: { ...ok, ...ERRORS },
    ...extra,
  };
}

function pathsFor(k: KindInfo, version: string): Record<string, unknown> {
  const base = k.group === '' ? `/api/${version}` : `/apis/${k.group}/${version}`;
  const ref = `#/components/schemas/${definitionName(k, version)}`;
  const listRef = `${ref}List`;
  const one = (d: string) => ({ description: d, content: { 'application/json': { schema: { $ref: ref } } } });
  const status = (d: string) => ({ description: d, content: { 'application/json': { schema: { $ref: STATUS_REF } } } });
  const collection = k.namespaced ? `${base}/namespaces/{namespace}/${k.plural}` : `${base}/${k.plural}`;
  const nsParam = k.namespaced ? [{ name: 'namespace', in: 'path', required: true, schema: { type: 'string' } }] : [];
  const nameParam = [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }];
  const patchBody = {
    content: Object.fromEntries(['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'].map((t) => [t, { schema: { type: 'object' } }])),
  };
  const paths: Record<string, unknown> = {
    [collection]: {
      parameters: nsParam,
      get: operation(k, version, 'list', { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: listRef } } } } }, { parameters: LIST_PARAMS }),
      post: operation(k, version, 'post', { '201': one('Created'), '409': status('AlreadyExists'), '422': status('Invalid') }, { parameters: WRITE_PARAMS, requestBody: JSON_BODY(ref) }),
    },
    [`${collection}/{name}`]: {
      parameters: [...nsParam, ...nameParam],
      get: operation(k, version, 'get', { '200': one('OK'), '404': status('NotFound') }),
      put: operation(k, version, 'put', { '200': one('OK'), '404': status('NotFound'), '409': status('Conflict'), '422': status('Invalid') }, { parameters: WRITE_PARAMS, requestBody: JSON_BODY(ref) }),
      patch: operation(k, version, 'patch', { '200': one('OK'), '201': one('Created (server-side apply)'), '404': status('NotFound'), '409': status('Conflict'), '422': status('Invalid') }, { parameters: [...WRITE_PARAMS, q('force', 'server-side apply: take over fields other managers own', 'boolean')], requestBody: patchBody }),
      delete: operation(k, version, 'delete', { '200': one('OK'), '404': status('NotFound'), '409': status('Conflict') }),
    },
  };
  if (k.namespaced) {
    paths[`${base}/${k.plural}`] = { get: operation(k, version, 'list', { '200': { description: 'OK', content: { 'application/json': { schema: { $ref: listRef } } } } }, { parameters: LIST_PARAMS }) };
  }
  if (hasStatus(k)) {
    paths[`${collection}/{name}/status`] = { parameters: [...nsParam, ...nameParam], get: operation(k, version, 'get', { '200': one('OK'), '404': status('NotFound') }) };
  }
  return paths;
}

const META_SCHEMAS = {
  'io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta': {
    type: 'object',
    properties: { resourceVersion: { type: 'string' }, continue: { type: 'string' }, remainingItemCount: { type: 'integer' } },
  },
  'io.k8s.apimachinery.pkg.apis.meta.v1.Status': {
    type: 'object',
    description: 'Status is the answer to a request that failed (and to some that succeeded without returning an object).',
    properties: {
      apiVersion: { type: 'string' }, kind: { type: 'string' }, metadata: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta' },
      status: { type: 'string' }, message: { type: 'string' }, reason: { type: 'string' }, code: { type: 'integer' },
      details: {
        type: 'object',
        properties: {
          name: { type: 'string' }, group: { type: 'string' }, kind: { type: 'string' }, uid: { type: 'string' },
          causes: { type: 'array', items: { type: 'object', properties: { reason: { type: 'string' }, message: { type: 'string' }, field: { type: 'string' } } } },
        },
      },
    },
    'x-kubernetes-group-version-kind': [{ group: '', version: 'v1', kind: 'Status' }],
  },
};

const STATUS_SCHEMA = {
  type: 'object',
  description: 'Set by Portcullis: whether the translator accepted the object, and why not.',
  properties: {
    conditions: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          type: { type: 'string' }, status: { type: 'string' }, reason: { type: 'string' }, message: { type: 'string' },
          observedGeneration: { type: 'integer' }, lastTransitionTime: { type: 'string' },
        },
      },
    },
  },
};

export function groupVersionDoc(group: string, version: string, portcullisVersion: string): object | undefined {
  const kinds = kindsIn(group, version);
  if (kinds.length === 0) return undefined;
  const schemas: Record<string, unknown> = { ...META_SCHEMAS };
  let paths: Record<string, unknown> = {};
  for (const k of kinds) {
    const name = definitionName(k, version);
    const s = toOpenApiSchema(k.schema) as Record<string, unknown>;
    const props = { ...(s.properties as Record<string, unknown>) };
    props.apiVersion = { type: 'string', description: `${apiVersionOf(k.group, version)}` };
    props.kind = { type: 'string', description: k.kind };
    if (hasStatus(k)) props.status = STATUS_SCHEMA;
    schemas[name] = { ...s, description: `${k.kind} (${apiVersionOf(k.group, version)}), as Portcullis validates it.`, properties: props, 'x-kubernetes-group-version-kind': [gvk(k, version)] };
    schemas[`${name}List`] = {
      type: 'object',
      required: ['items'],
      properties: {
        apiVersion: { type: 'string' }, kind: { type: 'string' },
        metadata: { $ref: '#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta' },
        items: { type: 'array', items: { $ref: `#/components/schemas/${name}` } },
      },
      'x-kubernetes-group-version-kind': [{ group: k.group, version, kind: `${k.kind}List` }],
    };
    paths = { ...paths, ...pathsFor(k, version) };
  }
  return { openapi: '3.0.0', info: { title: 'Portcullis management API', version: portcullisVersion }, paths, components: { schemas } };
}

let rootCache: { doc: object; docs: Map<string, string> } | undefined;

/** Every group-version's document, serialized once, and the root index with content hashes. */
function documents(portcullisVersion: string): { doc: object; docs: Map<string, string> } {
  if (rootCache) return rootCache;
  const docs = new Map<string, string>();
  const gvs: [string, string][] = [['', 'v1'], ...groups().flatMap((g) => g.versions.map((v): [string, string] => [g.name, v]))];
  const paths: Record<string, { serverRelativeURL: string }> = {};
  for (const [g, v] of gvs) {
    const doc = groupVersionDoc(g, v, portcullisVersion);
    if (!doc) continue;
    const rel = g === '' ? `api/${v}` : `apis/${g}/${v}`;
    const text = JSON.stringify(doc);
    docs.set(rel, text);
    const hash = createHash('sha512').update(text).digest('hex').slice(0, 32).toUpperCase();
    paths[rel] = { serverRelativeURL: `/openapi/v3/${rel}?hash=${hash}` };
  }
  rootCache = { doc: { paths }, docs };
  return rootCache;
}

export function openApiRoot(portcullisVersion: string): object {
  return documents(portcullisVersion).doc;
}

/** The serialized document for "apis/{group}/{version}" or "api/v1". */
export function openApiFor(rel: string, portcullisVersion: string): string | undefined {
  return documents(portcullisVersion).docs.get(rel);
}
