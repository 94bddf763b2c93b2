// Building blocks for the kind schemas: small constructors that keep every
// object closed (additionalProperties: false, so unknown fields are errors),
// the Kubernetes name patterns, and ObjectMeta.
//
// A `description` on a constrained fragment is what users read when a value
// does not fit ("must be <description> (got ...)"), so it says what a valid
// value looks like rather than repeating the regex.

export type Schema = Record<string, unknown>;

export function obj(properties: Record<string, Schema>, required: string[] = [], extra: Schema = {}): Schema {
  const s: Schema = { type: 'object', properties, additionalProperties: false, ...extra };
  if (required.length > 0) s.required = required;
  return s;
}

export function arr(items: Schema, extra: Schema = {}): Schema {
  return { type: 'array', items, ...extra };
}

/** A list that Kubernetes treats as a set (listType=set): duplicates are rejected. */
export function set(items: Schema, extra: Schema = {}): Schema {
  return { type: 'array', items, uniqueItems: true, ...extra };
}

export function map(values: Schema, keys?: Schema, extra: Schema = {}): Schema {
  const s: Schema = { type: 'object', additionalProperties: values, ...extra };
  if (keys) s.propertyNames = keys;
  return s;
}

export function oneOfValues(values: readonly (string | number)[], type: 'string' | 'integer' = 'string'): Schema {
  return { type, enum: [...values] };
}

export const STRING: Schema = { type: 'string' };
export const BOOLEAN: Schema = { type: 'boolean' };
export const INTEGER: Schema = { type: 'integer' };
/** Present in many objects, written by controllers; accepted and ignored. */
export const ANY: Schema = {};

export function str(extra: Schema): Schema {
  return { type: 'string', ...extra };
}

export function int(minimum: number, maximum: number, description?: string): Schema {
  const s: Schema = { type: 'integer', minimum, maximum };
  if (description) s.description = description;
  return s;
}

// --- Kubernetes name patterns (k8s.io/apimachinery/pkg/util/validation) ---

export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS1035_LABEL_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
/** Label and annotation keys: optional DNS-subdomain prefix, then a name of at most 63 characters. */
export const QUALIFIED_NAME_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$';
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';

export const DNS1123_LABEL: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: DNS1123_LABEL_PATTERN,
  description: 'a lowercase RFC 1123 label (letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)',
};

export const DNS1123_SUBDOMAIN: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: DNS1123_SUBDOMAIN_PATTERN,
  description: 'a lowercase RFC 1123 subdomain (labels of letters, digits and "-" separated by ".", at most 253 characters)',
};

export const DNS1035_LABEL: Schema = {
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: DNS1035_LABEL_PATTERN,
  description: 'a lowercase RFC 1035 label (starting with a letter; letters, digits and "-"; at most 63 characters)',
};

export const QUALIFIED_NAME: Schema = {
  type: 'string',
  maxLength: 317,
  pattern: QUALIFIED_NAME_PATTERN,
  description: 'a key such as "app" or "example.com/app" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)',
};

export const LABEL_VALUE: Schema = {
  type: 'string',
  maxLength: 63,
  pattern: LABEL_VALUE_PATTERN,
  description: 'a label value (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, or empty)',
};

export const LABELS: Schema = map(LABEL_VALUE, QUALIFIED_NAME);
export const ANNOTATIONS: Schema = map(STRING, QUALIFIED_NAME);
export const STRING_MAP: Schema = map(STRING);

/** metav1.LabelSelector */
export const LABEL_SELECTOR: Schema = obj({
  matchLabels: LABELS,
  matchExpressions: arr(
    obj(
      {
        key: QUALIFIED_NAME,
        operator: oneOfValues(['In', 'NotIn', 'Exists', 'DoesNotExist']),
        values: arr(STRING),
      },
      ['key', 'operator'],
    ),
  ),
});

/** How metadata.name must look for a kind (Kubernetes differs by kind). */
export type NameRule = 'subdomain' | 'label' | 'dns1035';

const NAME_SCHEMAS: Record<NameRule, Schema> = {
  subdomain: DNS1123_SUBDOMAIN,
  label: DNS1123_LABEL,
  dns1035: DNS1035_LABEL,
};

/** ObjectMeta: what users write plus the server-set fields, which are accepted. */
export function objectMeta(nameRule: NameRule): Schema {
  return obj(
    {
      name: NAME_SCHEMAS[nameRule],
      generateName: STRING,
      namespace: DNS1123_LABEL,
      labels: LABELS,
      annotations: ANNOTATIONS,
      // Server-set fields: present in `kubectl get -o yaml` output, accepted as is.
      uid: STRING,
      resourceVersion: STRING,
      generation: INTEGER,
      creationTimestamp: STRING,
      deletionTimestamp: STRING,
      deletionGracePeriodSeconds: INTEGER,
      selfLink: STRING,
      finalizers: arr(STRING),
      managedFields: arr({ type: 'object' }),
      ownerReferences: arr(
        obj(
          {
            apiVersion: STRING,
            kind: STRING,
            name: STRING,
            uid: STRING,
            controller: BOOLEAN,
            blockOwnerDeletion: BOOLEAN,
          },
          ['apiVersion', 'kind', 'name', 'uid'],
        ),
      ),
    },
    ['name'],
  );
}

export interface ResourceSchemaOptions {
  nameRule?: NameRule;
  /** Top-level fields besides apiVersion, kind, metadata and status (usually just `spec`). */
  fields: Record<string, Schema>;
  required?: string[];
}

/** The whole object: envelope, metadata, the kind's own fields, and an ignored `status`. */
export function resourceSchema(opts: ResourceSchemaOptions): Schema {
  return obj(
    {
      apiVersion: STRING,
      kind: STRING,
      metadata: objectMeta(opts.nameRule ?? 'subdomain'),
      status: ANY,
      ...opts.fields,
    },
    ['apiVersion', 'kind', 'metadata', ...(opts.required ?? [])],
  );
}
