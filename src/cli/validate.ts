// `portcullis validate -f ...`: every error, with file, line, document, object and field path.
import { parseFilesCommand } from './args.ts';
import { buildFromPaths } from '../config/pipeline.ts';
import { formatError } from '../resources/errors.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../translate/index.ts';
import { analyze } from '../analyze/index.ts';

const HELP = `Usage: portcullis validate -f FILE_OR_DIR [-f ...] [--root-namespace NS] [--status] [--strict]

Checks the resources and prints every error (file:line, document number,
kind/namespace/name, field path). Exit status 1 when there is any error.
Then prints what portcullis analyze finds (unresolved references, routes
attached to nothing, dead or shadowed policies...) as warnings, exit 0;
--strict makes them errors (exit 1).
--status also prints each resource's translation status (accepted, attached, why not).
`;

export async function validateCommand(argv: string[]): Promise<number> {
  const parsed = parseFilesCommand('validate', HELP, argv, {
    'root-namespace': { type: 'string', default: 'istio-system' },
    status: { type: 'boolean' },
    strict: { type: 'boolean' },
  });
  if (typeof parsed === 'number') return parsed;
  const { values, files } = parsed;
  const r = await buildFromPaths(files, { ...DEFAULT_TRANSLATE_OPTIONS, rootNamespace: values['root-namespace']! });
  for (const e of r.errors) process.stdout.write(`error: ${formatError(e)}\n`);
  for (const e of r.policyErrors) process.stdout.write(`error: ${formatError(e)} (policy rejected; its hop fails closed)\n`);
  const status = r.snapshot?.status ?? [];
  if (values.status) {
    for (const s of status) {
      const generation = s.observedGeneration === undefined ? '' : ` (generation ${s.observedGeneration})`;
      process.stdout.write(`${s.accepted ? 'accepted' : 'rejected'}: ${s.object}${generation}\n`);
      for (const c of s.conditions) process.stdout.write(`  ${c.type}=${c.status} ${c.reason}: ${c.message}\n`);
      for (const [label, list] of [['parent', s.parents], ['ancestor', s.ancestors]] as const) {
        for (const p of list ?? []) {
          process.stdout.write(`  ${label} ${p.parentRef.kind}/${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ''}:\n`);
          for (const c of p.conditions) process.stdout.write(`    ${c.type}=${c.status} ${c.reason}: ${c.message}\n`);
        }
      }
    }
  }
  const rejected = status.filter((s) => !s.accepted);
  for (const s of rejected) {
    const refusals = [
      ...s.conditions.filter((c) => c.status === 'False').map((c) => `${c.reason}: ${c.message}`),
      ...[...(s.parents ?? []), ...(s.ancestors ?? [])].flatMap((p) =>
        p.conditions.filter((c) => c.status === 'False').map((c) => `${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `/${p.parentRef.sectionName}` : ''}: ${c.reason}: ${c.message}`)),
    ];
    const why = refusals.join('; ');
    if (!values.status) process.stdout.write(`rejected: ${s.object}: ${why}\n`);
  }
  const findings = r.snapshot ? analyze({ snapshot: r.snapshot, resources: r.resources }) : [];
  const label = values.strict ? 'error' : 'warning';
  for (const f of findings) process.stdout.write(`${label}: ${f.at ? `${f.at} ` : ''}${f.object}: ${f.code} ${f.message} (fix: ${f.fix})\n`);
  const count = r.errors.length + r.policyErrors.length + (values.strict ? findings.length : 0);
  if (count > 0) {
    process.stdout.write(`${count} error(s) in ${r.files.length} file(s)\n`);
    return 1;
  }
  process.stdout.write(`ok: ${r.resources.length} resource(s) in ${r.files.length} file(s)${rejected.length ? `, ${rejected.length} not accepted (see above)` : ''}${findings.length ? `, ${findings.length} warning(s) (see above; --strict makes them errors)` : ''}\n`);
  return 0;
}
