// Which Istio security policies (AuthorizationPolicy, RequestAuthentication,
// PeerAuthentication — they share the rules) apply to one hop of a request.
//
// Istio's WorkloadPolicyMatcher (pilot/pkg/model/policyattachment.go), mapped
// onto Portcullis' two hops — the Gateway, and the destination Service/Backend:
// - without targetRef(s): a policy in the root namespace applies to every hop
//   whose labels match its selector (no selector: every hop, in every
//   namespace); a policy elsewhere applies to hops in its own namespace whose
//   labels match its selector (no selector: the whole namespace).
//   Note: the brief said root-namespace policies apply only without a selector;
//   Istio applies a root-namespace selector mesh-wide, and Istio wins.
// - with targetRef(s): only what they name, in the policy's own namespace
//   (Istio has no cross-namespace references): a Gateway
//   (gateway.networking.k8s.io) → that Gateway's hop; an HTTPRoute → the
//   Gateway hop of requests that matched that route; a core Service → the
//   destination hop of that Service. targetRefs win over the selector.
// A Gateway hop carries, besides its own labels, the labels Istio puts on the
// pods it deploys for a Gateway (gateway.networking.k8s.io/gateway-name, and
// the older istio.io/gateway-name), so selectors written for an Istio-deployed
// gateway keep selecting it.
import type { ConfigError } from '../../resources/errors.ts';
import { formatPath } from '../../resources/errors.ts';
import type { LoadedResource, Resource } from '../../resources/types.ts';
import { namespaceOf, resourceKey } from '../../resources/types.ts';
import { compareByAge } from '../attachment/precedence.ts';
import { covers, type AttachmentTarget, type ListenerPoint, type RouteRulePoint } from '../attachment/targets.ts';

export interface PolicyHop {
  kind: 'Gateway' | 'Service' | 'Backend';
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

export interface SelectOptions {
  rootNamespace: string;
  /** The HTTPRoute that matched (Gateway hop only): policies targeting it apply. */
  route?: { namespace: string; name: string };
}

export const GATEWAY_API_GROUP = 'gateway.networking.k8s.io';
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
export const LEGACY_GATEWAY_NAME_LABEL = 'istio.io/gateway-name';

interface TargetRef {
  group?: unknown;
  kind?: unknown;
  name?: unknown;
  namespace?: unknown;
}

/** spec.targetRefs, else [spec.targetRef], else []. */
export function targetRefsOf(r: Resource): TargetRef[] {
  const spec = (r.spec ?? {}) as { targetRefs?: unknown; targetRef?: unknown };
  if (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0) return spec.targetRefs.filter(isObject);
  if (isObject(spec.targetRef)) return [spec.targetRef];
  return [];
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function canonicalGroup(g: unknown): string {
  return g === undefined || g === '' || g === 'core' ? '' : String(g);
}

/** The labels a hop is selected by. */
export function hopLabels(hop: PolicyHop): Record<string, string> {
  if (hop.kind !== 'Gateway' || (hop.labels[GATEWAY_NAME_LABEL] !== undefined && hop.labels[LEGACY_GATEWAY_NAME_LABEL] !== undefined)) return hop.labels;
  return { [GATEWAY_NAME_LABEL]: hop.name, [LEGACY_GATEWAY_NAME_LABEL]: hop.name, ...hop.labels };
}

function selectorMatches(r: Resource, labels: Record<string, string>): boolean {
  const spec = (r.spec ?? {}) as { selector?: unknown };
  if (spec.selector === undefined || spec.selector === null) return true;
  if (!isObject(spec.selector)) return false; // malformed: selects nothing (reported by validation)
  const ml = spec.selector.matchLabels;
  if (ml === undefined || ml === null) return true;
  if (!isObject(ml)) return false;
  for (const k of Object.keys(ml)) {
    if (labels[k] !== String(ml[k])) return false;
  }
  return true;
}

function targetMatches(ref: TargetRef, policyNs: string, hop: PolicyHop, opts: SelectOptions): boolean {
  if (ref.namespace !== undefined && ref.namespace !== '' && ref.namespace !== policyNs) return false;
  const group = canonicalGroup(ref.group);
  const name = ref.name;
  if (typeof name !== 'string' || name === '') return false;
  if (group === GATEWAY_API_GROUP && (ref.kind === 'Gateway' || ref.kind === 'HTTPRoute')) {
    // The Gateway hop, seen as the attachment model's point: that Gateway, and the route that matched.
    if (hop.kind !== 'Gateway') return false;
    const target: AttachmentTarget = ref.kind === 'Gateway'
      ? { level: 'Gateway', gateway: { namespace: policyNs, name } }
      : { level: 'Route', route: { kind: 'HTTPRoute', namespace: policyNs, name } };
    const gateway = { namespace: hop.namespace, name: hop.name };
    const point: RouteRulePoint | ListenerPoint = opts.route
      ? { gateway, listener: '', route: { kind: 'HTTPRoute', ...opts.route }, rule: -1 }
      : { gateway, listener: '' };
    return covers(target, point);
  }
  if (group === '' && ref.kind === 'Service') {
    return hop.kind === 'Service' && hop.namespace === policyNs && hop.name === name;
  }
  return false;
}

/** Does this policy apply to this hop? */
export function policyAppliesTo(r: Resource, hop: PolicyHop, opts: SelectOptions): boolean {
  const ns = namespaceOf(r);
  const refs = targetRefsOf(r);
  if (refs.length > 0) return refs.some((ref) => targetMatches(ref, ns, hop, opts));
  if (ns !== opts.rootNamespace && ns !== hop.namespace) return false;
  return selectorMatches(r, hopLabels(hop));
}

/**
 * The policies that apply to the hop, oldest first (the one precedence order
 * of translate/attachment: creationTimestamp, load order for files, then
 * namespace/name), so the result does not depend on the order of the input.
 */
export function selectIstioPolicies(policies: LoadedResource[], hop: PolicyHop, opts: SelectOptions): LoadedResource[] {
  return policies.filter((p) => policyAppliesTo(p.resource, hop, opts)).sort(compareByAge);
}

/** Target kinds Portcullis can attach a security.istio.io policy to. */
const SUPPORTED_TARGETS = 'Gateway or HTTPRoute (gateway.networking.k8s.io), or Service (core)';

/**
 * Istio's validation of selector/targetRef(s) (validateOneOfSelectorType,
 * validateWorkloadSelector, validatePolicyTargetReference), shared by the three
 * policy kinds. Istio also accepts ServiceEntry and GatewayClass targets, which
 * have nothing to attach to here: they are refused rather than ignored.
 */
export function validatePolicyTargeting(r: Resource): ConfigError[] {
  const object = resourceKey(r);
  const errors: ConfigError[] = [];
  const err = (path: (string | number)[], message: string) => errors.push({ object, path: formatPath(path), message });
  const spec = (r.spec ?? {}) as Record<string, unknown>;

  let set = 0;
  if (spec.selector !== undefined && spec.selector !== null) set++;
  if (spec.targetRef !== undefined && spec.targetRef !== null) set++;
  if (Array.isArray(spec.targetRefs) && spec.targetRefs.length > 0) set++;
  if (set > 1) err(['spec'], 'only one of selector, targetRef or targetRefs can be set');

  if (spec.selector !== undefined && spec.selector !== null) {
    if (!isObject(spec.selector)) err(['spec', 'selector'], 'must be an object');
    else {
      for (const k of Object.keys(spec.selector)) {
        if (k !== 'matchLabels') err(['spec', 'selector', k], 'unknown field');
      }
      const ml = spec.selector.matchLabels;
      if (ml !== undefined && ml !== null) {
        if (!isObject(ml)) err(['spec', 'selector', 'matchLabels'], 'must be a map of strings');
        else {
          for (const [k, v] of Object.entries(ml)) {
            if (k === '') err(['spec', 'selector', 'matchLabels'], 'empty label key is not supported');
            if (typeof v !== 'string') err(['spec', 'selector', 'matchLabels', k], 'label value must be a string');
            else if (k.includes('*') || v.includes('*')) err(['spec', 'selector', 'matchLabels', k], `wildcard is not supported in selector: "${k}=${v}"`);
          }
        }
      }
    }
  }

  const check = (ref: unknown, path: (string | number)[]) => {
    if (!isObject(ref)) {
      err(path, 'must be an object');
      return;
    }
    for (const k of Object.keys(ref)) {
      if (k !== 'group' && k !== 'kind' && k !== 'name' && k !== 'namespace') err([...path, k], 'unknown field');
    }
    if (typeof ref.name !== 'string' || ref.name === '') err([...path, 'name'], 'targetRef name must be set');
    if (ref.namespace !== undefined && ref.namespace !== '') {
      err([...path, 'namespace'], 'targetRef namespace must not be set; cross namespace referencing is not supported');
    }
    const group = canonicalGroup(ref.group);
    const ok =
      (group === GATEWAY_API_GROUP && (ref.kind === 'Gateway' || ref.kind === 'HTTPRoute')) ||
      (group === '' && ref.kind === 'Service');
    if (!ok) err([...path, 'kind'], `targetRef must be to a ${SUPPORTED_TARGETS}, found ${String(ref.group ?? '')}/${String(ref.kind ?? '')}`);
  };
  if (spec.targetRef !== undefined && spec.targetRef !== null) check(spec.targetRef, ['spec', 'targetRef']);
  if (spec.targetRefs !== undefined && spec.targetRefs !== null) {
    if (!Array.isArray(spec.targetRefs)) err(['spec', 'targetRefs'], 'must be a list');
    else spec.targetRefs.forEach((ref, i) => check(ref, ['spec', 'targetRefs', i]));
  }
  return errors;
}
