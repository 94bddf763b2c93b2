// PC20xx: rules that can never take effect, read from the compiled-to-be IR
// of each hop (the same configs the data plane evaluates).
import type { IstioCondition, IstioRule } from '../ir/istio.ts';
import type { AnalyzeContext, Hop } from './context.ts';
import { finding, type Finding } from './finding.ts';

/** Whether Istio path pattern `outer` matches every path `inner` matches (exact, "prefix*", "*"). */
export function pathCovers(outer: string, inner: string): boolean {
  if (outer === '*' || outer === inner) return true;
  if (outer.endsWith('*') && !outer.startsWith('*')) return inner.startsWith(outer.slice(0, -1)) && !inner.startsWith('*');
  return false;
}

/** The paths a DENY rule denies unconditionally (no source, no when, only paths in one operation), else undefined. */
function unconditionalDenyPaths(r: IstioRule): string[] | undefined {
  if (r.from !== null || r.when.length > 0 || r.to === null) return undefined;
  const paths: string[] = [];
  for (const entry of r.to) {
    if (entry.length !== 1 || entry[0].key !== 'request.path' || entry[0].notValues.length > 0) return undefined;
    paths.push(...entry[0].values);
  }
  return paths;
}

/** Every request an ALLOW rule admits has a path in these sets (one per `to` entry), or undefined when some entry admits any path. */
function allowPaths(r: IstioRule): string[][] | undefined {
  if (r.to === null) return undefined;
  const out: string[][] = [];
  for (const entry of r.to) {
    const p = entry.find((c) => c.key === 'request.path' && c.values.length > 0);
    if (!p) return undefined;
    out.push(p.values);
  }
  return out;
}

function entryImpossible(entry: IstioCondition[]): string | undefined {
  for (const c of entry) {
    if (c.key === 'request.method' && c.values.length > 0 && c.values.every((v) => c.notValues.includes(v))) return `methods [${c.values.join(', ')}] are all in notMethods`;
  }
  return undefined;
}

function neverMatches(r: IstioRule, hop: Hop): string | undefined {
  if (r.to !== null && r.to.length > 0) {
    const why = r.to.map(entryImpossible);
    if (why.every((w) => w !== undefined)) return why[0];
  }
  if (!hop.jwt) {
    const auth = [...r.when, ...(r.from ?? []).flat()].find((c) => c.key.startsWith('request.auth.') && c.values.length > 0);
    if (auth) return `it requires ${auth.key}${auth.claim ? `[${auth.claim.join('][')}]` : ''}, and no RequestAuthentication applies on ${hop.name}: no request has a JWT there`;
  }
  return undefined;
}

export function checkRules(cx: AnalyzeContext): Finding[] {
  const out: Finding[] = [];
  for (const hop of cx.hops()) {
    const c = hop.authz;
    if (!c) continue;
    for (const p of [...c.deny, ...(c.allow ?? [])]) {
      for (const r of p.rules) {
        const why = neverMatches(r, hop);
        if (why) out.push(finding('PC2002', p.origin, cx.at(p.origin, ['spec', 'rules', r.index]), `rule ${r.index} can never match on ${hop.name}: ${why}`, 'remove the rule, or fix the condition (a RequestAuthentication on the same hop for request.auth.*)'));
      }
    }
    const denied = c.deny.flatMap((p) => p.rules.map((r) => ({ p, r, paths: unconditionalDenyPaths(r) })));
    for (const p of c.allow ?? []) {
      for (const r of p.rules) {
        const sets = allowPaths(r);
        if (!sets) continue;
        for (const d of denied) {
          if (!d.paths) continue;
          if (sets.every((set) => set.every((a) => d.paths!.some((dp) => pathCovers(dp, a))))) {
            out.push(finding('PC2001', p.origin, cx.at(p.origin, ['spec', 'rules', r.index]), `rule ${r.index} (paths ${sets.flat().join(', ')}) is shadowed by ${d.p.origin} rule ${d.r.index} (DENY ${d.paths.join(', ')}) on ${hop.name}: DENY is evaluated first, so it never allows anything`, `narrow the DENY in ${d.p.origin}, or remove the ALLOW rule`));
            break;
          }
        }
      }
    }
  }
  return out;
}
