import type { LoadedResource, Resource } from '../resources/types.ts';

/** Resources by kind, then "namespace/name", for the lookups translate makes. */
export class ResourceIndex {
  readonly all: readonly LoadedResource[];
  private byKind = new Map<string, Map<string, LoadedResource>>();

  constructor(resources: readonly LoadedResource[]) {
    this.all = resources;
    for (const r of resources) {
      const kind = r.resource.kind;
      let m = this.byKind.get(kind);
      if (!m) this.byKind.set(kind, (m = new Map()));
      m.set(`${r.resource.metadata.namespace ?? 'default'}/${r.resource.metadata.name}`, r);
    }
  }

  get(kind: string, namespace: string, name: string): LoadedResource | undefined {
    return this.byKind.get(kind)?.get(`${namespace}/${name}`);
  }

  /** Cluster-scoped kinds (Namespace, GatewayClass) are looked up by name only. */
  getCluster(kind: string, name: string): LoadedResource | undefined {
    const m = this.byKind.get(kind);
    if (!m) return undefined;
    for (const r of m.values()) if (r.resource.metadata.name === name) return r;
    return undefined;
  }

  list(kind: string): LoadedResource[] {
    const m = this.byKind.get(kind);
    return m ? [...m.values()] : [];
  }

  namespaceLabels(namespace: string): Record<string, string> {
    const ns = this.getCluster('Namespace', namespace)?.resource;
    // Kubernetes sets this label on every namespace; selectors rely on it.
    return { 'kubernetes.io/metadata.name': namespace, ...ns?.metadata.labels };
  }
}

/** Decoded value of a Secret key (data is base64, stringData plain). */
export function secretValue(secret: Resource, key: string): string | undefined {
  const plain = secret.stringData?.[key];
  if (typeof plain === 'string') return plain;
  const b64 = secret.data?.[key];
  if (typeof b64 === 'string') return Buffer.from(b64, 'base64').toString('utf8');
  return undefined;
}
