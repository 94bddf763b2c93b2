// ReferenceGrant (gateway.networking.k8s.io/v1beta1, and v1 since Gateway
// API v1.5): lets objects in other namespaces refer to objects in this one.
import { type Schema, type Static, obj, arr, specResourceSchema } from './common.ts';
import { GROUP, KIND, NAMESPACE, OBJECT_NAME } from './gatewayapi-types.ts';

const REFERENCE_GRANT_SPEC = obj(
  {
    from: arr(obj({ group: GROUP, kind: KIND, namespace: NAMESPACE }, ['group', 'kind', 'namespace']), { minItems: 1, maxItems: 16 }),
    to: arr(obj({ group: GROUP, kind: KIND, name: OBJECT_NAME }, ['group', 'kind']), { minItems: 1, maxItems: 16 }),
  },
  ['from', 'to'],
);

export type ReferenceGrantSpec = Static<typeof REFERENCE_GRANT_SPEC>;

export const referenceGrantSchema: Schema = specResourceSchema(REFERENCE_GRANT_SPEC);
