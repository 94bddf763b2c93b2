// Validates one resource as users wrote it: the envelope (apiVersion, kind,
// metadata), then the kind's JSON schema (unknown fields and bad values are
// errors), then the kind's semantic checks. Schemas compile once, lazily.
import { Ajv, type ValidateFunction } from 'ajv';
import { KINDS, findKind, apiVersionOf, type KindInfo } from './kinds/index.ts';
import { translateErrors, describeValue, suggestion } from './kinds/schema-errors.ts';
import type { ValidationIssue } from './kinds/issues.ts';

export type { ValidationIssue } from './kinds/issues.ts';

/** Past this many, one issue says how many more there are. */
const MAX_ISSUES = 100;

/**
 * Longest string a schema pattern is run on. No patterned field accepts more
 * (they have a maxLength, or a pattern that bounds the length); the guard
 * keeps a hostile multi-megabyte value from feeding a backtracking regex, and
 * the maxLength error still reports it.
 */
const MAX_PATTERN_INPUT = 4096;

function guardedRegExp(pattern: string, flags: string): { test(s: string): boolean; toString(): string } {
  const re = new RegExp(pattern, flags);
  // ajv caches compiled patterns by toString(): it must differ per pattern.
  return { test: (s: string) => s.length <= MAX_PATTERN_INPUT && re.test(s), toString: () => re.toString() };
}
// ajv's RegExpEngine type wants `code`; it is only used for standalone code generation.
guardedRegExp.code = 'new RegExp';

let ajv: Ajv | undefined;
const compiled = new Map<KindInfo, ValidateFunction>();

function validatorFor(info: KindInfo): ValidateFunction {
  let fn = compiled.get(info);
  if (!fn) {
    ajv ??= new Ajv({ allErrors: true, verbose: true, strict: true, allowUnionTypes: true, code: { regExp: guardedRegExp } });
    fn = ajv.compile(info.schema);
    compiled.set(info, fn);
  }
  return fn;
}

function isMap(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sortedUnique(values: string[]): string[] {
  return [...new Set(values)].sort();
}

/** Why no schema applies to this apiVersion/kind, in one issue. */
function unknownKind(apiVersion: string, kind: string): ValidationIssue {
  const sameKind = KINDS.filter((k) => k.kind === kind);
  if (sameKind.length > 0) {
    const versions = sameKind.flatMap((k) => k.versions.map((v) => apiVersionOf(k.group, v)));
    return { path: ['apiVersion'], message: `unsupported apiVersion "${apiVersion}" for kind ${kind}; use ${versions.join(' or ')}` };
  }
  const kindsHere = sortedUnique(KINDS.filter((k) => k.versions.some((v) => apiVersionOf(k.group, v) === apiVersion)).map((k) => k.kind));
  if (kindsHere.length > 0) {
    // Case slips only: kinds an edit apart are different kinds (TCPRoute is not HTTPRoute).
    const hint = suggestion(kind, kindsHere, 0);
    return {
      path: ['kind'],
      message: `unknown kind "${kind}" for apiVersion ${apiVersion}${hint ? ` (did you mean "${hint}"?)` : ''}; supported kinds: ${kindsHere.join(', ')}`,
    };
  }
  const all = sortedUnique(KINDS.flatMap((k) => k.versions.map((v) => apiVersionOf(k.group, v))));
  return { path: ['apiVersion'], message: `unknown apiVersion "${apiVersion}"; supported apiVersions: ${all.join(', ')}` };
}

/** apiVersion and kind: without both as strings, no schema can be chosen. */
function checkTypeFields(obj: Record<string, unknown>, out: ValidationIssue[]): void {
  for (const field of ['apiVersion', 'kind']) {
    const v = obj[field];
    if (v === undefined) out.push({ path: [], message: `missing required field "${field}"` });
    else if (typeof v !== 'string') out.push({ path: [field], message: `must be a string (got ${describeValue(v)})` });
    else if (v === '') out.push({ path: [field], message: 'must not be empty' });
  }
}

/** metadata and metadata.name, reported when the kind's own schema cannot be used. */
function checkMetadataEnvelope(obj: Record<string, unknown>, out: ValidationIssue[]): void {
  const md = obj.metadata;
  if (md === undefined) out.push({ path: [], message: 'missing required field "metadata"' });
  else if (!isMap(md)) out.push({ path: ['metadata'], message: `must be a map (got ${describeValue(md)})` });
  else if (md.name === undefined) out.push({ path: ['metadata'], message: 'missing required field "name"' });
  else if (typeof md.name !== 'string') out.push({ path: ['metadata', 'name'], message: `must be a string (got ${describeValue(md.name)})` });
}

function runChecks(info: KindInfo, obj: unknown, out: ValidationIssue[]): void {
  if (!info.check) return;
  try {
    info.check(obj, out);
  } catch {
    // A check is written for schema-valid input; if one still trips, say so
    // rather than crash the loader. The message carries no input values.
    out.push({ path: [], message: `internal error while checking this ${info.kind}; please report it` });
  }
}

function capped(issues: ValidationIssue[]): ValidationIssue[] {
  if (issues.length <= MAX_ISSUES) return issues;
  const shown = issues.slice(0, MAX_ISSUES);
  shown.push({ path: [], message: `${issues.length - MAX_ISSUES} more problems not shown` });
  return shown;
}

/**
 * Every problem with one resource, as field paths and messages. An empty list
 * means the resource is valid. Never throws, whatever `obj` is.
 */
export function validateResource(obj: unknown): ValidationIssue[] {
  try {
    return validateObject(obj);
  } catch {
    // Only reachable with objects no YAML or JSON parser produces (getters that throw, proxies).
    return [{ path: [], message: 'could not be validated: the object is not plain data' }];
  }
}

function validateObject(obj: unknown): ValidationIssue[] {
  if (!isMap(obj)) {
    return [{ path: [], message: `a resource must be a map with apiVersion, kind and metadata (got ${describeValue(obj)})` }];
  }
  const issues: ValidationIssue[] = [];
  checkTypeFields(obj, issues);
  if (issues.length > 0) {
    checkMetadataEnvelope(obj, issues);
    return issues;
  }
  const apiVersion = obj.apiVersion as string;
  const kind = obj.kind as string;
  const info = findKind(apiVersion, kind);
  if (!info) {
    issues.push(unknownKind(apiVersion, kind));
    checkMetadataEnvelope(obj, issues);
    return issues;
  }
  const validate = validatorFor(info);
  if (!validate(obj)) issues.push(...translateErrors(validate.errors ?? [], obj, info.kind === 'Secret'));
  const md = obj.metadata;
  if (!info.namespaced && isMap(md) && md.namespace !== undefined) {
    issues.push({ path: ['metadata', 'namespace'], message: `must not be set: ${info.kind} is cluster-scoped` });
  }
  if (issues.length === 0) runChecks(info, obj, issues);
  return capped(issues);
}
