// SecurityPolicy → IR, on the attachment phase (docs/policy-families.md): the
// winning policy per route rule (rule > route > listener > gateway, then
// oldest, then namespace/name; no merging: a route-level policy replaces the
// Gateway's for that route entirely) adds its filters to that rule. A policy
// that cannot be translated still wins where it would have, and answers 500
// there (failClosed) — never a fallback to a looser policy, never unprotected.
import type { IRFilter } from '../../ir/types.ts';
import { namespaceOf, resourceKey } from '../../resources/types.ts';
import { sortFilters } from '../../ir/filter-order.ts';
import { attachingPolicy, attachWinners, type AttachContext, type AttachingPolicy } from '../attachment/index.ts';
import { translateSecurityPolicy, type PolicyTranslation } from './filters.ts';
import type { SecurityPolicySpec } from '../../resources/kinds/envoygateway-securitypolicy.ts';

export function attachSecurityPolicies({ idx, targets: inv, status, policyErrors }: AttachContext): void {
  const sps = idx.list('SecurityPolicy');
  if (sps.length === 0) return;
  const policies: AttachingPolicy<SecurityPolicySpec>[] = [];
  const translations = new Map<string, PolicyTranslation>();
  for (const r of sps) {
    const key = resourceKey(r.resource);
    const written = (r.resource.spec ?? {}) as SecurityPolicySpec;
    const ns = namespaceOf(r.resource);
    const foreign = written.targetRef?.namespace !== undefined && written.targetRef.namespace !== ns ? written.targetRef : undefined;
    // Envoy Gateway refuses a target in another namespace: the policy and its target must share one.
    const spec = foreign ? { ...written, targetRef: undefined } : written;
    const p = attachingPolicy(r, spec, inv);
    if (foreign) p.notFound = [...(p.notFound ?? []), `targetRef ${foreign.kind} ${foreign.namespace}/${foreign.name}: a SecurityPolicy may only target resources in its own namespace (${ns})`];
    const t = translateSecurityPolicy(idx, r, spec);
    translations.set(key, t);
    if (t.invalid !== undefined) {
      p.invalid = t.invalid;
      policyErrors.push({ object: key, message: `${t.invalid} (its routes answer 500)`, source: r.source });
    }
    if (t.notServed.length > 0) {
      status.condition(key, { type: 'UnsupportedFields', status: 'True', reason: 'UnsupportedValue', message: `accepted but not served by this version: ${t.notServed.join('; ')}` });
    }
    policies.push(p);
  }
  const winners = attachWinners(policies, inv.points, { kind: 'SecurityPolicy', status, inventory: inv });
  for (const [point, att] of winners) {
    const key = resourceKey(att.policy.resource.resource);
    const t = translations.get(key)!;
    const added: IRFilter[] = t.invalid !== undefined ? [{ type: 'failClosed', origin: key, config: { reason: t.invalid } }] : t.filters;
    point.ir.filters = sortFilters([...point.ir.filters, ...added]);
  }
}
