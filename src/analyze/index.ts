// `portcullis analyze`: static analysis of the translated configuration —
// the snapshot the data plane would serve and its status, not a second
// reading of the YAML. One file per check family; codes in finding.ts and
// docs/analyze.md. Shared by `analyze`, `validate` and the admin /config.
import { AnalyzeContext, type AnalyzeInput } from './context.ts';
import type { Finding } from './finding.ts';
import { checkReferences } from './references.ts';
import { checkSelectors } from './selectors.ts';
import { checkRules } from './rules.ts';
import { checkWideOpen } from './wide-open.ts';

export type { Finding } from './finding.ts';
export { CODES, formatFinding } from './finding.ts';

export function analyze(input: AnalyzeInput): Finding[] {
  const cx = new AnalyzeContext(input);
  const all = [...checkReferences(cx), ...checkSelectors(cx), ...checkRules(cx), ...checkWideOpen(cx)];
  const seen = new Set<string>();
  const out: Finding[] = [];
  for (const f of all) {
    const k = `${f.code}|${f.object}|${f.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(f);
  }
  return out.sort((a, b) => (a.level === b.level ? 0 : a.level === 'error' ? -1 : 1) || a.code.localeCompare(b.code) || a.object.localeCompare(b.object));
}
