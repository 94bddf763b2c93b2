// Turns ajv's errors into messages a person editing YAML can act on: one
// issue per problem, pointing at the field itself, in plain words.
import type { ErrorObject } from 'ajv';
import type { FieldPath, ValidationIssue } from './issues.ts';

/** JSON pointer ("/spec/rules/0") → path segments, numbers for list indexes. */
export function pointerToPath(pointer: string, root: unknown): FieldPath {
  const path: FieldPath = [];
  if (pointer === '') return path;
  let cur: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (Array.isArray(cur)) {
      const i = Number(seg);
      path.push(i);
      cur = cur[i];
    } else {
      path.push(seg);
      cur = cur !== null && typeof cur === 'object' && Object.hasOwn(cur, seg) ? (cur as Record<string, unknown>)[seg] : undefined;
    }
  }
  return path;
}

const TYPE_NAMES: Record<string, string> = {
  string: 'a string',
  integer: 'an integer',
  number: 'a number',
  boolean: 'a boolean (true or false)',
  object: 'a map',
  array: 'a list',
  null: 'empty',
};

function typeNames(types: string): string {
  return types.split(',').map((t) => TYPE_NAMES[t] ?? t).join(' or ');
}

const MAX_SHOWN = 80;

/** How a value is shown in "(got ...)": strings quoted and shortened; with `redact`, only the type. */
export function describeValue(v: unknown, redact = false): string {
  if (v === null || v === undefined) return 'an empty value';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a map';
  if (redact) return `a ${typeof v}`;
  if (typeof v === 'string') return JSON.stringify(v.length > MAX_SHOWN ? `${v.slice(0, MAX_SHOWN)}…` : v);
  return String(v);
}

function describeValueForType(v: unknown, expected: string, redact: boolean): string {
  // "80" where a number is wanted reads better with its type spelled out.
  if (typeof v === 'string' && !redact && /integer|number|boolean/.test(expected)) return `string ${describeValue(v)}`;
  return describeValue(v, redact);
}

function plural(n: number, word: string, words = `${word}s`): string {
  return `${n} ${n === 1 ? word : words}`;
}

/** Allowed names close to an unknown one: same letters in another case, or an edit or two away. */
export function suggestion(unknown: string, allowed: string[], maxEdits = 2): string | undefined {
  const lower = unknown.toLowerCase();
  const exact = allowed.find((a) => a.toLowerCase() === lower);
  if (exact) return exact;
  if (unknown.length < 4 || maxEdits === 0) return undefined;
  let best: string | undefined;
  let bestDistance = maxEdits + 1;
  for (const a of allowed) {
    const d = editDistance(lower, a.toLowerCase(), bestDistance);
    if (d < bestDistance) {
      best = a;
      bestDistance = d;
    }
  }
  return best;
}

function editDistance(a: string, b: string, limit: number): number {
  if (Math.abs(a.length - b.length) >= limit) return limit;
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    prev = cur;
  }
  return prev[b.length];
}

function constraintMessage(e: ErrorObject, redact: boolean): string {
  const p = e.params as Record<string, any>;
  const description = typeof e.parentSchema?.description === 'string' ? e.parentSchema.description : undefined;
  const got = describeValue(e.data, redact);
  switch (e.keyword) {
    case 'type': {
      const expected = String(p.type);
      // YAML reads `true`, `8080` or `1.0` unquoted as booleans and numbers: say how to get a string.
      const quote = expected === 'string' && !redact && (typeof e.data === 'number' || typeof e.data === 'boolean')
        ? `; quote it to make it a string: "${String(e.data)}"`
        : '';
      return `must be ${typeNames(expected)} (got ${describeValueForType(e.data, expected, redact)}${quote})`;
    }
    case 'enum':
      return `must be one of: ${(p.allowedValues as unknown[]).map(String).join(', ')} (got ${got})`;
    case 'const':
      return `must be ${JSON.stringify(p.allowedValue)} (got ${got})`;
    case 'pattern':
    case 'format':
      return description ? `must be ${description} (got ${got})` : `must match the pattern ${p.pattern ?? p.format} (got ${got})`;
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return description ? `must be ${description} (got ${got})` : `must be ${p.comparison} ${p.limit} (got ${got})`;
    case 'minLength':
      return p.limit === 1 ? 'must not be empty' : `must be at least ${plural(p.limit, 'character')} long`;
    case 'maxLength':
      return `must be at most ${plural(p.limit, 'character')} long (got ${typeof e.data === 'string' ? e.data.length : '?'})`;
    case 'minItems':
      return `must have at least ${plural(p.limit, 'item')}`;
    case 'maxItems':
      return `must have at most ${plural(p.limit, 'item')} (got ${Array.isArray(e.data) ? e.data.length : '?'})`;
    case 'minProperties':
      return `must have at least ${plural(p.limit, 'entry', 'entries')}`;
    case 'maxProperties':
      return `must have at most ${plural(p.limit, 'entry', 'entries')} (got ${e.data !== null && typeof e.data === 'object' ? Object.keys(e.data).length : '?'})`;
    case 'multipleOf':
      return `must be a multiple of ${p.multipleOf} (got ${got})`;
    case 'oneOf':
      return 'matches more than one of the allowed forms';
    default:
      return e.message ?? `is invalid (${e.keyword})`;
  }
}

/** One ajv error → one issue (or none for the wrapper errors whose children say it better). */
function toIssue(e: ErrorObject, root: unknown, redact: boolean): ValidationIssue | undefined {
  const path = pointerToPath(e.instancePath, root);
  const p = e.params as Record<string, any>;
  switch (e.keyword) {
    case 'required':
      return { path, message: `missing required field "${p.missingProperty}"` };
    case 'additionalProperties': {
      const name = String(p.additionalProperty);
      const allowed = Object.keys((e.parentSchema?.properties as object | undefined) ?? {});
      const hint = suggestion(name, allowed);
      return { path: [...path, name], message: `unknown field "${name}"${hint ? ` (did you mean "${hint}"?)` : ''}` };
    }
    case 'uniqueItems':
      return { path: [...path, Number(p.j)], message: `duplicate item (same as item ${p.i})` };
    case 'if':
    case 'propertyNames':
      return undefined;
    case 'anyOf':
      // Normally replaced by the best alternative's errors (resolveAlternatives).
      return { path, message: 'does not match any of the allowed forms' };
    default:
      break;
  }
  const propertyName = (e as ErrorObject & { propertyName?: string }).propertyName;
  if (propertyName !== undefined) {
    // A key of a map failed its propertyNames schema: point at the key itself.
    return { path: [...path, propertyName], message: `invalid key ${describeValue(propertyName)}: ${constraintMessage({ ...e, data: propertyName }, false)}` };
  }
  return { path, message: constraintMessage(e, redact) };
}

/**
 * anyOf/oneOf report every failing alternative. Keep one: the alternative
 * whose type matched and that got furthest (deepest path, then fewest
 * errors); if none matched the type, one message naming all the types.
 */
function resolveAlternatives(errors: ErrorObject[]): ErrorObject[] {
  let result = errors;
  const combinators = errors
    .filter((e) => e.keyword === 'anyOf' || (e.keyword === 'oneOf' && (e.params as { passingSchemas?: unknown }).passingSchemas == null))
    .sort((a, b) => a.schemaPath.length - b.schemaPath.length);
  for (const c of combinators) {
    if (!result.includes(c)) continue;
    // Schema paths carry no list indexes: an error belongs to this
    // combinator only if it is also at or below the same instance.
    const prefix = `${c.schemaPath}/`;
    const belongs = (e: ErrorObject) =>
      e.schemaPath.startsWith(prefix) && (e.instancePath === c.instancePath || e.instancePath.startsWith(`${c.instancePath}/`));
    const branches = new Map<string, ErrorObject[]>();
    for (const e of result) {
      if (!belongs(e)) continue;
      const branch = e.schemaPath.slice(prefix.length).split('/')[0];
      const list = branches.get(branch);
      if (list) list.push(e);
      else branches.set(branch, [e]);
    }
    const all = [...branches.values()];
    if (all.length === 0) continue;
    const typeMismatch = (errs: ErrorObject[]) => errs.every((e) => e.keyword === 'type' && e.instancePath === c.instancePath);
    const matched = all.filter((errs) => !typeMismatch(errs));
    let replacement: ErrorObject[];
    if (matched.length === 0) {
      const types = [...new Set(all.flatMap((errs) => errs.map((e) => String((e.params as { type: string }).type))))];
      replacement = [{ ...c, keyword: 'type', params: { type: types.join(',') } }];
    } else {
      const depth = (errs: ErrorObject[]) => Math.max(...errs.map((e) => e.instancePath.split('/').length));
      matched.sort((a, b) => depth(b) - depth(a) || a.length - b.length);
      replacement = matched[0];
    }
    result = result.flatMap((e) => (e === c ? replacement : belongs(e) ? [] : [e]));
  }
  return result;
}

export function translateErrors(errors: readonly ErrorObject[], root: unknown, redact: boolean): ValidationIssue[] {
  const resolved = resolveAlternatives([...errors]);
  // An empty or overlong string also fails its (length-guarded) pattern; the length is the news.
  const where = (e: ErrorObject) => `${e.instancePath}\u0000${(e as ErrorObject & { propertyName?: string }).propertyName ?? ''}`;
  const badLength = new Set(resolved.filter((e) => e.keyword === 'maxLength' || e.keyword === 'minLength').map(where));
  const issues: ValidationIssue[] = [];
  const seen = new Set<string>();
  for (const e of resolved) {
    if (e.keyword === 'pattern' && badLength.has(where(e))) continue;
    const issue = toIssue(e, root, redact);
    if (!issue) continue;
    const key = JSON.stringify(issue);
    if (seen.has(key)) continue;
    seen.add(key);
    issues.push(issue);
  }
  return issues;
}
