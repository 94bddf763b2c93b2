// Option parsing shared by the commands (node:util parseArgs, strict).
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { PathNormalization } from '../ir/types.ts';

export class UsageError extends Error {}

export function parse<T extends ParseArgsConfig['options']>(argv: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

const FILES_OPTIONS = { file: { type: 'string', short: 'f', multiple: true }, help: { type: 'boolean', short: 'h' } } as const;

/**
 * The front of a command that reads -f files (validate, analyze): parse its
 * options, answer --help, require at least one -f. Returns the options, or
 * the exit status when the command is already answered (0 help, 2 usage).
 * `check` adds the command's own option checks (UsageError for a bad value).
 */
export function parseFilesCommand<T extends NonNullable<ParseArgsConfig['options']>>(
  command: string,
  help: string,
  argv: string[],
  options: T,
  check?: (values: ReturnType<typeof parse<T>>['values']) => void,
) {
  let values;
  try {
    ({ values } = parse(argv, { ...options, ...FILES_OPTIONS }));
    check?.(values);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`portcullis ${command}: ${err.message}\n\n${help}`);
      return 2;
    }
    throw err;
  }
  if ((values as { help?: boolean }).help) {
    process.stdout.write(help);
    return 0;
  }
  const files = (values as { file?: string[] }).file;
  if (!files || files.length === 0) {
    process.stderr.write(`portcullis ${command}: give at least one -f\n\n${help}`);
    return 2;
  }
  return { values, files };
}

export function hostPort(text: string, flag: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) throw new UsageError(`${flag} wants HOST:PORT, got "${text}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function positiveInt(text: string, flag: string, min = 0): number {
  if (!/^\d+$/.test(text) || Number(text) < min) throw new UsageError(`${flag} wants a whole number${min > 0 ? ` ≥ ${min}` : ''}, got "${text}"`);
  return Number(text);
}

const NORMALIZATIONS: readonly PathNormalization[] = ['NONE', 'BASE', 'MERGE_SLASHES', 'DECODE_AND_MERGE_SLASHES'];

/** --path-normalization; undefined when not given (the mesh config's, else BASE, applies). */
export function pathNormalization(text: string | undefined): PathNormalization | undefined {
  if (text === undefined) return undefined;
  if (!(NORMALIZATIONS as readonly string[]).includes(text)) throw new UsageError(`--path-normalization wants one of ${NORMALIZATIONS.join(', ')}, got "${text}"`);
  return text as PathNormalization;
}
