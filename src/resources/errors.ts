import type { SourceRef } from './types.ts';

/** One problem in the user's configuration, pointing at where it is. */
export interface ConfigError {
  /** e.g. "HTTPRoute/default/api"; absent for file-level errors. */
  object?: string;
  /** Dotted field path, e.g. "spec.rules[0].matches[1].path.value". */
  path?: string;
  message: string;
  source?: SourceRef;
  /** Line of the field itself when known, else the document's line. */
  line?: number;
}

export function formatPath(parts: readonly (string | number)[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(p)) out += out ? `.${p}` : p;
    else out += `[${JSON.stringify(p)}]`;
  }
  return out;
}

/** "file.yaml:12 (document 2) HTTPRoute/default/api: spec.rules[0]...: message" */
export function formatError(e: ConfigError): string {
  const where: string[] = [];
  if (e.source) {
    const line = e.line ?? e.source.line;
    where.push(`${e.source.file}:${line} (document ${e.source.doc})`);
  }
  if (e.object) where.push(e.object);
  const head = where.join(' ');
  const field = e.path ? `${e.path}: ` : '';
  return head ? `${head}: ${field}${e.message}` : `${field}${e.message}`;
}
