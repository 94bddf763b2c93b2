// Helpers for the semantic checks: rules a JSON schema cannot express
// (cross-field constraints, uniqueness by key, values that must parse).
// Checks only run on objects that already passed the schema, so shapes are
// known; the helpers still tolerate absent values.
import { isIP } from 'node:net';
import type { FieldPath, ValidationIssue } from './issues.ts';

export function list<T = any>(value: unknown): T[] {
  return Array.isArray(value) ? (value as T[]) : [];
}

export function entries(value: unknown): [string, any][] {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? Object.entries(value) : [];
}

export function has(o: unknown, key: string): boolean {
  return o !== null && typeof o === 'object' && Object.hasOwn(o, key) && (o as Record<string, unknown>)[key] !== undefined;
}

/** An IPv4 or IPv6 address, as net.isIP reads it. */
export function isIPAddress(s: string): boolean {
  return isIP(s) !== 0;
}

/** A single address or a CIDR block ("10.0.0.0/8", "2001:db8::/32"). */
export function isIPOrCIDR(s: string): boolean {
  const slash = s.indexOf('/');
  if (slash < 0) return isIPAddress(s);
  const family = isIP(s.slice(0, slash));
  const bits = s.slice(slash + 1);
  if (family === 0 || !/^[0-9]{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/** Report every later entry whose key was already seen. */
export function checkUniqueBy<T>(
  items: readonly T[],
  key: (item: T) => string | undefined,
  path: FieldPath,
  field: string,
  message: (key: string, first: number) => string,
  out: ValidationIssue[],
): void {
  const seen = new Map<string, number>();
  items.forEach((item, i) => {
    const k = key(item);
    if (k === undefined) return;
    const first = seen.get(k);
    if (first === undefined) seen.set(k, i);
    else out.push({ path: [...path, i, field], message: message(k, first) });
  });
}

/** metav1.LabelSelector rules the apiserver enforces (ValidateLabelSelector). */
export function checkLabelSelector(selector: any, path: FieldPath, out: ValidationIssue[]): void {
  list(selector?.matchExpressions).forEach((expr, i) => {
    const values = list(expr.values);
    if ((expr.operator === 'In' || expr.operator === 'NotIn') && values.length === 0) {
      out.push({ path: [...path, 'matchExpressions', i, 'values'], message: `must be non-empty when operator is ${expr.operator}` });
    }
    if ((expr.operator === 'Exists' || expr.operator === 'DoesNotExist') && values.length > 0) {
      out.push({ path: [...path, 'matchExpressions', i, 'values'], message: `must be empty when operator is ${expr.operator}` });
    }
  });
}

const GO_DURATION = /^([0-9]+(\.[0-9]*)?|\.[0-9]+)(ns|us|µs|ms|s|m|h)/;
const UNIT_MS: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds in a Go duration string ("1h2m", "1.5s", "300ms"), or undefined if it is not one. */
export function parseGoDuration(s: string): number | undefined {
  if (s === '0') return 0;
  let rest = s;
  let total = 0;
  if (rest.length === 0 || rest.length > 64) return undefined;
  while (rest.length > 0) {
    const m = GO_DURATION.exec(rest);
    if (!m) return undefined;
    total += Number(m[1]) * UNIT_MS[m[3]];
    rest = rest.slice(m[0].length);
  }
  return total;
}

/** Milliseconds in a Gateway API (GEP-2257) duration that already matched its pattern. */
export function gepDurationMs(s: string): number {
  return parseGoDuration(s) ?? 0;
}
