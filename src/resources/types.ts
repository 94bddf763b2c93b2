// The user's API: Kubernetes-style objects, as they come out of YAML.
// Specs stay loosely typed here; each kind's schema (src/resources/kinds)
// is what guarantees their shape, and translate/ narrows them to what it reads.

export interface ObjectMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  creationTimestamp?: string;
  generation?: number;
  resourceVersion?: string;
  uid?: string;
  [k: string]: unknown;
}

export interface Resource<Spec = any> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: Spec;
  // Secret / ConfigMap carry data instead of spec.
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  type?: string;
  // EndpointSlice keeps its fields at the top level.
  [k: string]: unknown;
}

/** Where a resource came from, so that errors can point at a line. */
export interface SourceRef {
  file: string;
  /** 1-based position of the document in a multi-document file. */
  doc: number;
  /** 1-based line of the document's first line. */
  line: number;
  /** Line of a field inside the document, by dotted path ("spec.rules[0]"). */
  lineOf?: (path: (string | number)[]) => number | undefined;
}

export interface LoadedResource {
  resource: Resource;
  source?: SourceRef;
  /** Monotonic per store: orders resources whose creationTimestamp ties. */
  seq: number;
  /**
   * The object never changes once read (the management API's store hands out a
   * new object for every change): its validation is done once, not every build.
   */
  immutable?: boolean;
}

/** `kind/namespace/name`, the identity of a resource across the pipeline. */
export function resourceKey(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
}

export function namespaceOf(r: Resource): string {
  return r.metadata.namespace ?? 'default';
}

/** The group part of an apiVersion ("" for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}
