// PC30xx: results wider than the policies look.
import type { IstioAuthorizationConfig, IstioRule } from '../ir/istio.ts';
import type { AnalyzeContext, Hop } from './context.ts';
import { finding, type Finding } from './finding.ts';

function mentionsAuth(r: IstioRule): boolean {
  return [...r.when, ...(r.from ?? []).flat()].some((c) => c.key.startsWith('request.auth.'));
}

/** An enforced policy on this hop asks for a request principal (ALLOW on one, or DENY without one). */
function requiresAuth(c: IstioAuthorizationConfig | undefined): boolean {
  if (!c) return false;
  if (c.allow && c.allow.length > 0 && c.allow.every((p) => p.rules.length > 0 && p.rules.every(mentionsAuth))) return true;
  return c.deny.some((p) => p.rules.some((r) => [...r.when, ...(r.from ?? []).flat()].some((x) => x.key === 'request.auth.principal' && x.notValues.length > 0)));
}

function allowsAll(r: IstioRule): boolean {
  return r.from === null && r.to === null && r.when.length === 0;
}

export function checkWideOpen(cx: AnalyzeContext): Finding[] {
  const out: Finding[] = [];
  // Route rules by listener and hostnames: siblings a client reaches the same way.
  const groups = new Map<string, { route: Hop['route']; auth: boolean }[]>();
  const byRoute = new Map<string, { route: Hop['route']; port: number; auth: boolean }>();
  for (const hop of cx.hops()) {
    const k = `${hop.listenerPort}|${hop.route.id}`;
    const e = byRoute.get(k) ?? { route: hop.route, port: hop.listenerPort, auth: false };
    e.auth ||= requiresAuth(hop.authz);
    byRoute.set(k, e);
    const c = hop.authz;
    if (c?.allow && c.allow.length > 1) {
      for (const p of c.allow) {
        const r = p.rules.find(allowsAll);
        if (r) out.push(finding('PC3002', p.origin, cx.at(p.origin, ['spec', 'rules', r.index]), `rule ${r.index} is empty (allows every request) on ${hop.name}, next to ${c.allow.filter((x) => x !== p).map((x) => x.origin).join(', ')}: the narrower ALLOWs restrict nothing`, 'give the rule from/to/when conditions, or remove it'));
      }
    }
    if (c && c.deny.some((p) => p.rules.some((r) => (r.to ?? []).flat().some((x) => x.key === 'request.path')))) {
      const listener = cx.snapshot.listeners.find((l) => l.port === hop.listenerPort);
      if (listener?.pathNormalization === 'NONE') {
        for (const p of c.deny) {
          if (!p.rules.some((r) => (r.to ?? []).flat().some((x) => x.key === 'request.path'))) continue;
          out.push(finding('PC3003', p.origin, cx.at(p.origin, ['spec', 'rules']), `DENY on paths with path normalization NONE on port ${hop.listenerPort}: /x/../admin, /%61dmin and //admin are not normalized and pass the DENY`, 'use path normalization BASE or stricter (mesh config pathNormalization, or --path-normalization), or an ALLOW list'));
        }
      }
    }
  }
  for (const e of byRoute.values()) {
    const k = `${e.port}|${[...e.route.hostnames].sort().join(',')}`;
    groups.set(k, [...(groups.get(k) ?? []), e]);
  }
  for (const list of groups.values()) {
    const guarded = list.filter((e) => e.auth);
    if (guarded.length === 0) continue;
    for (const e of list) {
      if (e.auth) continue;
      const key = `${e.route.route.kind}/${e.route.route.namespace}/${e.route.route.name}`;
      out.push(finding('PC3001', key, cx.at(key, ['spec', 'rules', e.route.route.rule]), `rule ${e.route.route.rule} is reachable without authentication, while ${[...new Set(guarded.map((g) => g.route.label))].join(', ')} on the same listener and hosts require a JWT`, 'put the route under the same policy (targetRefs to the route or the Gateway), or say it is public with an explicit ALLOW'));
    }
  }
  return out;
}
