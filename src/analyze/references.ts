// PC01xx: references that resolve to nothing, read from the translation status.
import type { AnalyzeContext } from './context.ts';
import { finding, type Finding } from './finding.ts';

export function checkReferences(cx: AnalyzeContext): Finding[] {
  const out: Finding[] = [];
  const rejectedByParent = new Map<string, string[]>();
  for (const s of cx.snapshot.status) {
    const kind = s.object.split('/')[0];
    if (kind !== 'HTTPRoute' && kind !== 'GRPCRoute') continue;
    // ResolvedRefs is per parent in Gateway API status; once per route is enough here.
    const unresolved = new Map<string, (typeof s.conditions)[number]>();
    for (const c of [...s.conditions, ...(s.parents ?? []).flatMap((p) => p.conditions)]) if (c.type === 'ResolvedRefs' && c.status === 'False') unresolved.set(c.message, c);
    for (const c of unresolved.values()) {
      {
        out.push(finding('PC0101', s.object, cx.at(s.object, ['spec', 'rules']), `${c.message} (requests to it answer 500)`, 'create the backend, or fix the backendRef name, namespace and port'));
      }
    }
    const refused = [...s.conditions.filter((c) => c.type === 'Accepted' && c.status === 'False'), ...(s.parents ?? []).flatMap((p) => p.conditions.filter((c) => c.type === 'Accepted' && c.status === 'False'))];
    if (!s.accepted && refused.length > 0) {
      out.push(finding('PC0102', s.object, cx.at(s.object, ['spec', 'parentRefs']), `attached to no listener: ${refused.map((c) => c.message).join('; ')}`, "fix parentRefs (Gateway name, sectionName, port) or the listener's allowedRoutes"));
      // Which listeners refused it: the per-parent status when translate gives one, else the route's parentRefs.
      const ns = s.object.split('/')[1];
      const parents = s.parents
        ? s.parents.filter((p) => p.conditions.some((c) => c.type === 'Accepted' && c.status === 'False')).map((p) => p.parentRef)
        : ((cx.get(s.object)?.resource.spec as { parentRefs?: { name: string; namespace?: string; sectionName?: string }[] } | undefined)?.parentRefs ?? []).map((p) => ({ namespace: p.namespace ?? ns, name: p.name, sectionName: p.sectionName }));
      for (const p of parents) {
        const key = `Gateway/${p.namespace}/${p.name}${p.sectionName ? `/${p.sectionName}` : ''}`;
        rejectedByParent.set(key, [...(rejectedByParent.get(key) ?? []), s.object]);
      }
    }
  }
  // A listener that serves no route although routes name it: every one of them was refused.
  for (const s of cx.snapshot.status) {
    if (!s.object.startsWith('Gateway/')) continue;
    for (const c of s.conditions) {
      if (!c.type.startsWith('Listener/') || !c.message.startsWith('0 route(s) attached')) continue;
      const section = c.type.slice('Listener/'.length);
      const refused = [...(rejectedByParent.get(`${s.object}/${section}`) ?? []), ...(rejectedByParent.get(s.object) ?? [])];
      if (refused.length === 0) continue;
      out.push(finding('PC0103', s.object, cx.at(s.object, ['spec', 'listeners']), `listener ${section} rejects every route that names it (${refused.join(', ')}): it answers 404 to everything`, "widen the listener's allowedRoutes (namespaces, kinds) or move the routes"));
    }
  }
  return out;
}
