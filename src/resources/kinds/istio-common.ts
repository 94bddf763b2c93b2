// Types and rules shared by the security.istio.io kinds: the workload
// selector and the policy target references (istio/api type/v1beta1, and the
// rules of istio's pkg/config/validation).
import { obj, arr, map, str } from './common.ts';
import { GROUP, KIND } from './gatewayapi-types.ts';
import { entries, has, list } from './check-helpers.ts';
import type { ValidationIssue } from './issues.ts';

export const WORKLOAD_SELECTOR = obj({
  matchLabels: map(str({ maxLength: 63 }), undefined, { maxProperties: 4096 }),
});

export const POLICY_TARGET_REFERENCE = obj(
  { group: GROUP, kind: KIND, name: str({ minLength: 1, maxLength: 253 }), namespace: str({}) },
  ['kind', 'name'],
);

export const TARGET_REFS = arr(POLICY_TARGET_REFERENCE, { maxItems: 16 });

const SUPPORTED_TARGETS = new Set([
  '\u0000Service',
  'core\u0000Service',
  'networking.istio.io\u0000ServiceEntry',
  'gateway.networking.k8s.io\u0000Gateway',
  'gateway.networking.k8s.io\u0000GatewayClass',
]);

function checkTargetRef(ref: any, path: (string | number)[], out: ValidationIssue[]): void {
  if (!SUPPORTED_TARGETS.has(`${ref.group ?? ''}\u0000${ref.kind}`)) {
    out.push({
      path,
      message: `unsupported target ${ref.group ? `${ref.group}/` : ''}${ref.kind}; supported kinds are core/Service, networking.istio.io/ServiceEntry, gateway.networking.k8s.io/Gateway and gateway.networking.k8s.io/GatewayClass`,
    });
  }
  if (typeof ref.namespace === 'string' && ref.namespace.length > 0) {
    out.push({ path: [...path, 'namespace'], message: 'cross namespace referencing is not currently supported' });
  }
}

/** Labels in a workload selector are matched literally: no wildcards, no empty keys. */
export function checkWorkloadSelector(selector: any, out: ValidationIssue[]): void {
  for (const [key, value] of entries(selector?.matchLabels)) {
    const at = ['spec', 'selector', 'matchLabels', key];
    if (key.length === 0) out.push({ path: at, message: 'key must not be empty' });
    else if (key.includes('*')) out.push({ path: at, message: 'wildcard not allowed in label key match' });
    if (String(value).includes('*')) out.push({ path: at, message: 'wildcard not allowed in label value match' });
  }
}

/** selector, targetRef and targetRefs each say where a policy applies; at most one may be set. */
export function checkPolicyScope(spec: any, out: ValidationIssue[]): void {
  const set = ['selector', 'targetRef', 'targetRefs'].filter((k) => has(spec, k));
  if (set.length > 1) {
    out.push({ path: ['spec'], message: `only one of selector, targetRef or targetRefs can be set (got ${set.join(' and ')})` });
  }
  checkWorkloadSelector(spec.selector, out);
  if (has(spec, 'targetRef')) checkTargetRef(spec.targetRef, ['spec', 'targetRef'], out);
  list(spec.targetRefs).forEach((r, i) => checkTargetRef(r, ['spec', 'targetRefs', i], out));
}
