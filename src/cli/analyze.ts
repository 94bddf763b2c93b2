// `portcullis analyze -f ...`: what the policies really do (src/analyze).
import { parseFilesCommand, UsageError } from './args.ts';
import { buildFromPaths } from '../config/pipeline.ts';
import { formatError } from '../resources/errors.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../translate/index.ts';
import { analyze, formatFinding } from '../analyze/index.ts';

const HELP = `Usage: portcullis analyze -f FILE_OR_DIR [-f ...] [--format text|json] [--root-namespace NS]

Static analysis of the translated configuration: policies that select nothing
or target missing objects, rules that can never match or are shadowed, routes
left open next to protected siblings, path normalization weaker than a DENY
list assumes. Each finding has a stable code (PC0101…, see docs/analyze.md),
the object, file:line and a one-line fix. Exit status 1 when a finding is an
error (or the configuration does not load), else 0.
`;

export async function analyzeCommand(argv: string[]): Promise<number> {
  const parsed = parseFilesCommand('analyze', HELP, argv, {
    format: { type: 'string', default: 'text' },
    'root-namespace': { type: 'string', default: 'istio-system' },
  }, (v) => {
    if (v.format !== 'text' && v.format !== 'json') throw new UsageError('--format wants text or json');
  });
  if (typeof parsed === 'number') return parsed;
  const { values, files } = parsed;
  const r = await buildFromPaths(files, { ...DEFAULT_TRANSLATE_OPTIONS, rootNamespace: values['root-namespace']! });
  if (!r.snapshot) {
    for (const e of r.errors) process.stderr.write(`error: ${formatError(e)}\n`);
    process.stderr.write('portcullis analyze: the configuration does not translate; run portcullis validate\n');
    return 1;
  }
  const findings = analyze({ snapshot: r.snapshot, resources: r.resources });
  const errors = findings.filter((f) => f.level === 'error').length;
  if (values.format === 'json') process.stdout.write(JSON.stringify({ findings }, null, 2) + '\n');
  else {
    for (const f of findings) process.stdout.write(formatFinding(f) + '\n');
    process.stdout.write(`${findings.length} finding(s): ${errors} error(s), ${findings.length - errors} warning(s)\n`);
  }
  return errors > 0 ? 1 : 0;
}
