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
