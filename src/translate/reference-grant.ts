// Gateway API ReferenceGrant: a reference across namespaces is valid only
// when the target namespace grants it.
import type { ResourceIndex } from './index-resources.ts';
import type { ReferenceGrantSpec } from '../resources/kinds/gatewayapi-referencegrant.ts';

export function referenceAllowed(
  idx: ResourceIndex,
  from: { group: string; kind: string; namespace: string },
  to: { group: string; kind: string; namespace: string; name: string },
): boolean {
  for (const g of idx.list('ReferenceGrant')) {
    if ((g.resource.metadata.namespace ?? 'default') !== to.namespace) continue;
    const spec = g.resource.spec as ReferenceGrantSpec;
    const fromOk = spec.from.some((f) => (f.group ?? '') === from.group && f.kind === from.kind && f.namespace === from.namespace);
    if (!fromOk) continue;
    const toOk = spec.to.some((t) => (t.group ?? '') === to.group && t.kind === to.kind && (t.name === undefined || t.name === to.name));
    if (toOk) return true;
  }
  return false;
}
