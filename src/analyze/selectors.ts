// PC10xx: Istio policies that apply nowhere. Whether a policy applies is read
// from the IR (the hops whose filters carry it); the selector and the labels
// that exist are what the message shows the user.
import { namespaceOf, resourceKey, type LoadedResource } from '../resources/types.ts';
import { policiesOf, type AnalyzeContext } from './context.ts';
import { finding, type Finding } from './finding.ts';

const POLICY_KINDS = ['AuthorizationPolicy', 'RequestAuthentication'];

export function checkSelectors(cx: AnalyzeContext): Finding[] {
  const applied = new Set<string>();
  for (const hop of cx.hops()) {
    if (hop.authz) for (const p of policiesOf(hop.authz)) applied.add(p.origin);
    for (const f of [...hop.route.filters, ...(hop.route.action.type === 'proxy' ? hop.route.action.backends.flatMap((b) => b.filters) : [])]) {
      if (f.type === 'istio.requestAuthentication') applied.add(f.origin);
    }
  }
  const out: Finding[] = [];
  for (const kind of POLICY_KINDS) {
    for (const r of cx.ofKind(kind)) {
      const key = resourceKey(r.resource);
      const st = cx.snapshot.status.find((s) => s.object === key);
      if (st && !st.accepted) continue; // rejected on its own: validate already says why
      if ([...applied].some((o) => o === key || o.split(', ').includes(key))) continue;
      // It selects a Gateway or workload that exists, which serves no route: a routing problem (PC01xx), not a dead selector.
      if (selectsSomething(cx, r)) continue;
      const missing = missingTargets(cx, r);
      if (missing.length > 0) {
        out.push(finding('PC1002', key, cx.at(key, ['spec', 'targetRefs']), `targetRefs name ${missing.join(', ')}, which do not exist: the policy applies nowhere`, 'fix the targetRef (kind, name; same namespace as the policy) or create the object'));
        continue;
      }
      out.push(finding('PC1001', key, cx.at(key, ['spec', 'selector']), `${wanted(r)} selects no Gateway or workload served here; labels that exist: ${existing(cx, namespaceOf(r.resource))}`, 'use targetRefs to the Gateway (kind: Gateway, group: gateway.networking.k8s.io), or a selector with labels a Gateway/Service has'));
    }
  }
  return out;
}

function wanted(r: LoadedResource): string {
  const sel = (r.resource.spec as { selector?: { matchLabels?: Record<string, string> } } | undefined)?.selector?.matchLabels;
  if (sel) return `selector {${Object.entries(sel).map(([k, v]) => `${k}: ${v}`).join(', ')}}`;
  if ((r.resource.spec as { targetRefs?: unknown } | undefined)?.targetRefs) return 'its targetRefs';
  return `namespace ${namespaceOf(r.resource)} (no selector)`;
}

function existing(cx: AnalyzeContext, ns: string): string {
  const seen: string[] = [];
  for (const g of cx.ofKind('Gateway')) {
    const name = g.resource.metadata.name;
    seen.push(`Gateway/${namespaceOf(g.resource)}/${name} {gateway.networking.k8s.io/gateway-name: ${name}${labelText(g.resource.metadata.labels)}}`);
  }
  for (const s of cx.ofKind('Service')) {
    if (namespaceOf(s.resource) !== ns) continue;
    const sel = (s.resource.spec as { selector?: Record<string, string> } | undefined)?.selector;
    seen.push(`Service/${ns}/${s.resource.metadata.name} {${Object.entries({ ...s.resource.metadata.labels, ...sel }).map(([k, v]) => `${k}: ${v}`).join(', ')}}`);
  }
  return seen.length > 0 ? seen.join('; ') : 'none';
}

function labelText(l: Record<string, string> | undefined): string {
  return l ? Object.entries(l).map(([k, v]) => `, ${k}: ${v}`).join('') : '';
}

function missingTargets(cx: AnalyzeContext, r: LoadedResource): string[] {
  const spec = r.resource.spec as { targetRefs?: { kind?: string; name?: string }[]; targetRef?: { kind?: string; name?: string } } | undefined;
  const refs = spec?.targetRefs ?? (spec?.targetRef ? [spec.targetRef] : []);
  const ns = namespaceOf(r.resource);
  return refs.filter((t) => t.kind && t.name && !cx.get(`${t.kind}/${ns}/${t.name}`)).map((t) => `${t.kind}/${ns}/${t.name}`);
}

/** Whether the selector's labels are all on some Gateway (as Istio labels its pods), Service (its pod selector) or Backend. */
function selectsSomething(cx: AnalyzeContext, r: LoadedResource): boolean {
  const spec = r.resource.spec as { selector?: { matchLabels?: Record<string, string> }; targetRefs?: unknown; targetRef?: unknown } | undefined;
  const want = spec?.selector?.matchLabels;
  if (!want || spec?.targetRefs || spec?.targetRef) return false;
  const candidates: Record<string, string>[] = [
    ...cx.ofKind('Gateway').map((g) => ({ 'gateway.networking.k8s.io/gateway-name': g.resource.metadata.name, 'istio.io/gateway-name': g.resource.metadata.name, ...g.resource.metadata.labels })),
    ...cx.ofKind('Service').map((x) => ({ ...x.resource.metadata.labels, ...(x.resource.spec as { selector?: Record<string, string> } | undefined)?.selector })),
    ...cx.ofKind('Backend').map((b) => ({ ...b.resource.metadata.labels })),
  ];
  return candidates.some((labels) => Object.entries(want).every(([k, v]) => labels[k] === v));
}
