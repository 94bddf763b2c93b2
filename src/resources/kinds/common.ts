// Building blocks for the kind schemas: small constructors that keep every
// object closed (additionalProperties: false, so unknown fields are errors),
// the Kubernetes name patterns, and ObjectMeta.
//
// The constructors are typed the way TypeBox's are: each returns a JSON
// schema that also carries, for the compiler only, the TypeScript type of the
// values it accepts, so `Static<typeof X>` is the type of a value that passed
// validation. translate reads specs through these types instead of writing
// their shapes again. (TypeBox itself would do; these few constructors keep
// the schemas exactly as ajv and schema-errors.ts read them today.)
//
// A `description` on a constrained fragment is what users read when a value
// does not fit ("must be <description> (got ...)"), so it says what a valid
// value looks like rather than repeating the regex.

declare const STATIC: unique symbol;

/** A JSON schema; T is the type of the values it accepts (compile time only). */
export interface Schema<T = unknown> {
  readonly [STATIC]?: T;
  [keyword: string]: unknown;
}

/** Schema keywords, untyped (what a constructor adds or is given as `extra`). */
export type Keywords = Record<string, unknown>;

/** Gives plain keywords the type of the values they accept; the constructors' one cast. */
export function typed<T>(keywords: Keywords): Schema<T> {
  return keywords as Schema<T>;
}

/** The type of a value the schema accepts. */
export type Static<S> = S extends { readonly [STATIC]?: infer T } ? T : unknown;

type Simplify<T> = { [K in keyof T]: T[K] } & {};
type ObjectStatic<P, R extends keyof P> = Simplify<{ [K in R]-?: Static<P[K]> } & { [K in Exclude<keyof P, R>]?: Static<P[K]> }>;

export function obj<P extends Record<string, Schema<any>>, const R extends readonly (keyof P & string)[] = []>(
  properties: P,
  required?: R,
  extra: Keywords = {},
): Schema<ObjectStatic<P, R[number]>> {
  const s: Keywords = { type: 'object', properties, additionalProperties: false, ...extra };
  if (required && required.length > 0) s.required = [...required];
  return typed(s);
}

export function arr<T>(items: Schema<T>, extra: Keywords = {}): Schema<T[]> {
  return typed({ type: 'array', items, ...extra });
}

/** A list that Kubernetes treats as a set (listType=set): duplicates are rejected. */
export function set<T>(items: Schema<T>, extra: Keywords = {}): Schema<T[]> {
  return typed({ type: 'array', items, uniqueItems: true, ...extra });
}

export function map<T>(values: Schema<T>, keys?: Schema, extra: Keywords = {}): Schema<Record<string, T>> {
  const s: Keywords = { type: 'object', additionalProperties: values, ...extra };
  if (keys) s.propertyNames = keys;
  return typed(s);
}

export function oneOfValues<const V extends readonly (string | number)[]>(values: V, type: 'string' | 'integer' = 'string'): Schema<V[number]> {
  return typed({ type, enum: [...values] });
}

export const STRING = typed<string>({ type: 'string' });
export const BOOLEAN = typed<boolean>({ type: 'boolean' });
export const INTEGER = typed<number>({ type: 'integer' });
/** Present in many objects, written by controllers; accepted and ignored. */
export const ANY: Schema<unknown> = {};

export function str(extra: Keywords): Schema<string> {
  return typed({ type: 'string', ...extra });
}

/** A non-empty string of at most maxLength characters matching pattern; description says what the pattern wants. */
export function patterned(maxLength: number, pattern: string, description: string): Schema<string> {
  return str({ minLength: 1, maxLength, pattern, description });
}

export function int(minimum: number, maximum: number, description?: string): Schema<number> {
  const s: Keywords = { type: 'integer', minimum, maximum };
  if (description) s.description = description;
  return typed(s);
}

// --- Kubernetes name patterns (k8s.io/apimachinery/pkg/util/validation) ---

export const DNS1123_LABEL_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?$';
export const DNS1123_SUBDOMAIN_PATTERN = '^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$';
export const DNS1035_LABEL_PATTERN = '^[a-z]([-a-z0-9]*[a-z0-9])?$';
/** Label and annotation keys: optional DNS-subdomain prefix, then a name of at most 63 characters. */
export const QUALIFIED_NAME_PATTERN =
  '^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9]$';
export const LABEL_VALUE_PATTERN = '^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$';

export const DNS1123_LABEL = typed<string>({
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: DNS1123_LABEL_PATTERN,
  description: 'a lowercase RFC 1123 label (letters, digits and "-", starting and ending with a letter or digit, at most 63 characters)',
});

export const DNS1123_SUBDOMAIN = typed<string>({
  type: 'string',
  minLength: 1,
  maxLength: 253,
  pattern: DNS1123_SUBDOMAIN_PATTERN,
  description: 'a lowercase RFC 1123 subdomain (labels of letters, digits and "-" separated by ".", at most 253 characters)',
});

export const DNS1035_LABEL = typed<string>({
  type: 'string',
  minLength: 1,
  maxLength: 63,
  pattern: DNS1035_LABEL_PATTERN,
  description: 'a lowercase RFC 1035 label (starting with a letter; letters, digits and "-"; at most 63 characters)',
});

export const QUALIFIED_NAME = typed<string>({
  type: 'string',
  maxLength: 317,
  pattern: QUALIFIED_NAME_PATTERN,
  description: 'a key such as "app" or "example.com/app" (optional DNS prefix and "/", then at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit)',
});

export const LABEL_VALUE = typed<string>({
  type: 'string',
  maxLength: 63,
  pattern: LABEL_VALUE_PATTERN,
  description: 'a label value (at most 63 letters, digits, "-", "_" or ".", starting and ending with a letter or digit, or empty)',
});

export const LABELS = map(LABEL_VALUE, QUALIFIED_NAME);
export const ANNOTATIONS = map(STRING, QUALIFIED_NAME);
export const STRING_MAP = map(STRING);

/** metav1.LabelSelector */
export const LABEL_SELECTOR = obj({
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

const NAME_SCHEMAS: Record<NameRule, Schema<string>> = {
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

export interface ResourceSchemaOptions<F extends Record<string, Schema<any>>> {
  nameRule?: NameRule;
  /** Top-level fields besides apiVersion, kind, metadata and status (usually just `spec`). */
  fields: F;
  required?: readonly (keyof F & string)[];
}

/** The whole object: envelope, metadata, the kind's own fields, and an ignored `status`. */
export function resourceSchema<F extends Record<string, Schema<any>>>(opts: ResourceSchemaOptions<F>): Schema {
  return obj(
    {
      apiVersion: STRING,
      kind: STRING,
      metadata: objectMeta(opts.nameRule ?? 'subdomain'),
      status: ANY,
      ...opts.fields,
    },
    ['apiVersion', 'kind', 'metadata', ...(opts.required ?? [])] as string[],
  );
}

/** A kind whose whole content is a required `spec` (most policy and route kinds). */
export function specResourceSchema(spec: Schema<any>): Schema {
  return resourceSchema({ fields: { spec }, required: ['spec'] });
}

export type LabelSelector = Static<typeof LABEL_SELECTOR>;
