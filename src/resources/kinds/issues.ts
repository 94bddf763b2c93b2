// One problem found in a resource, pointing at the field it is about.
// Shared by the schema translation (validate.ts) and the semantic checks
// that live next to each kind's schema.

export type FieldPath = (string | number)[];

export interface ValidationIssue {
  /** Field path as segments, e.g. ['spec', 'rules', 0, 'matches', 1, 'path', 'value']. */
  path: FieldPath;
  message: string;
}

/** Semantic checks receive a schema-valid object and report into a list. */
export type SemanticCheck = (obj: any, out: ValidationIssue[]) => void;
