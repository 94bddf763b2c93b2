// How the Envoy Gateway policies (SecurityPolicy, ClientTrafficPolicy, …)
// name what they attach to: api/v1alpha1/policy_helpers.go
// (PolicyTargetReferences: targetRef, targetRefs, targetSelectors).
import { obj, arr, oneOfValues, LABELS, STRING } from './common.ts';
import { GROUP, KIND, NAMESPACE, OBJECT_NAME, SECTION_NAME } from './gatewayapi-types.ts';
import { checkLabelSelector, list, has } from './check-helpers.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

/** gwapiv1a2.LocalPolicyTargetReferenceWithSectionName. */
export const LOCAL_POLICY_TARGET = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME, sectionName: SECTION_NAME }, ['group', 'kind', 'name']);

/** The deprecated singular targetRef (gwapiv1a2.PolicyTargetReferenceWithSectionName: it still has a namespace). */
export const POLICY_TARGET_WITH_NAMESPACE = obj(
  { group: GROUP, kind: KIND, name: OBJECT_NAME, namespace: NAMESPACE, sectionName: SECTION_NAME },
  ['group', 'kind', 'name'],
);

export const TARGET_SELECTOR = obj(
  {
    group: GROUP,
    kind: KIND,
    matchLabels: LABELS,
    matchExpressions: arr(
      obj({ key: STRING, operator: oneOfValues(['In', 'NotIn', 'Exists', 'DoesNotExist']), values: arr(STRING) }, ['key', 'operator']),
    ),
  },
  ['kind'],
);

/** The three attachment fields every Envoy Gateway policy spec carries. */
export const POLICY_TARGET_FIELDS = {
  targetRef: POLICY_TARGET_WITH_NAMESPACE,
  targetRefs: arr(LOCAL_POLICY_TARGET),
  targetSelectors: arr(TARGET_SELECTOR),
};

/**
 * The CRD's CEL rules on targets: at least one way of attaching, the kinds this
 * policy may target, and the group those kinds belong to.
 */
export function checkPolicyTargets(spec: any, kinds: readonly string[], out: ValidationIssue[]): void {
  const at: FieldPath = ['spec'];
  if (!has(spec, 'targetRef') && list(spec.targetRefs).length === 0 && list(spec.targetSelectors).length === 0) {
    out.push({ path: at, message: 'either targetRef, targetRefs or targetSelectors must be set' });
  }
  const checkRef = (ref: any, path: FieldPath): void => {
    if (ref.group !== 'gateway.networking.k8s.io') out.push({ path: [...path, 'group'], message: 'this policy can only have a targetRef.group of gateway.networking.k8s.io' });
    if (!kinds.includes(ref.kind)) out.push({ path: [...path, 'kind'], message: `this policy can only have a targetRef.kind of ${kinds.join('/')}` });
  };
  if (has(spec, 'targetRef')) checkRef(spec.targetRef, [...at, 'targetRef']);
  list(spec.targetRefs).forEach((r, i) => checkRef(r, [...at, 'targetRefs', i]));
  list(spec.targetSelectors).forEach((s, i) => {
    const path: FieldPath = [...at, 'targetSelectors', i];
    if (s.group !== undefined && s.group !== 'gateway.networking.k8s.io') out.push({ path: [...path, 'group'], message: 'group must be gateway.networking.k8s.io' });
    if (!kinds.includes(s.kind)) out.push({ path: [...path, 'kind'], message: `kind must be one of ${kinds.join('/')}` });
    checkLabelSelector(s, path, out);
  });
}
