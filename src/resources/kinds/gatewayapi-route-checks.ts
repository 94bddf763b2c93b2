// Semantic rules shared by HTTPRoute and GRPCRoute: the CEL validations of
// the Gateway API CRDs that a JSON schema cannot express.
import { list, has, isIPAddress, checkUniqueBy, gepDurationMs } from './check-helpers.ts';
import { regexError } from '../../match/regex.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

/** ParentRefs must be distinct (the experimental channel's two CEL rules). */
export function checkParentRefs(refs: any[], out: ValidationIssue[]): void {
  const byParent = new Map<string, number[]>();
  refs.forEach((r, i) => {
    const key = [r.group ?? GATEWAY_GROUP, r.kind ?? 'Gateway', r.namespace ?? '', r.name].join('\u0000');
    const group = byParent.get(key);
    if (group) group.push(i);
    else byParent.set(key, [i]);
  });
  for (const indexes of byParent.values()) {
    if (indexes.length < 2) continue;
    const first = refs[indexes[0]];
    const sectionSet = (r: any) => (r.sectionName ?? '') !== '';
    const portSet = (r: any) => (r.port ?? 0) !== 0;
    const seen = new Map<string, number>();
    for (const i of indexes) {
      const r = refs[i];
      const at = ['spec', 'parentRefs', i];
      if (sectionSet(r) !== sectionSet(first) || portSet(r) !== portSet(first)) {
        out.push({ path: at, message: `sectionName or port must be specified when parentRefs includes 2 or more references to the same parent (see parentRefs[${indexes[0]}])` });
        continue;
      }
      const key = `${r.sectionName ?? ''}\u0000${r.port ?? 0}`;
      const dup = seen.get(key);
      if (dup === undefined) seen.set(key, i);
      else out.push({ path: at, message: `sectionName or port must be unique when parentRefs includes 2 or more references to the same parent (same as parentRefs[${dup}])` });
    }
  }
}

/** Route hostnames follow RFC 1123 "with 2 notable exceptions", one being: IPs are not allowed. */
export function checkHostnames(hostnames: any[], out: ValidationIssue[]): void {
  hostnames.forEach((h, i) => {
    if (isIPAddress(h)) out.push({ path: ['spec', 'hostnames', i], message: 'must be a hostname, not an IP address' });
  });
}

/** Rule names unique; at most 128 matches over all rules. */
export function checkRules(rules: any[], out: ValidationIssue[]): void {
  checkUniqueBy(rules, (r) => r.name, ['spec', 'rules'], 'name', (name, first) =>
    `Rule name must be unique within the route ("${name}" is also rules[${first}].name)`, out);
  const total = rules.reduce((n, r) => n + list(r.matches).length, 0);
  if (total > 128) {
    out.push({ path: ['spec', 'rules'], message: `the total number of matches across all rules must be at most 128 (got ${total})` });
  }
}

/** A reference to a core Service needs a port ("Must have port for Service reference"). */
export function checkBackendObjectRef(ref: any, path: FieldPath, out: ValidationIssue[]): void {
  if ((ref.group ?? '') === '' && (ref.kind ?? 'Service') === 'Service' && !has(ref, 'port')) {
    out.push({ path, message: 'missing required field "port" (a Service reference needs the Service port)' });
  }
}

export function checkRegex(value: unknown, path: FieldPath, out: ValidationIssue[]): void {
  if (typeof value !== 'string') return;
  const err = regexError(value);
  if (err) out.push({ path, message: err });
}

/**
 * A filter's `type` and the field holding its configuration must agree, both
 * ways: the type's field is required, and no other type's field may be set.
 */
export function checkFilterUnion(filter: any, fields: Record<string, string>, path: FieldPath, out: ValidationIssue[]): void {
  for (const [field, type] of Object.entries(fields)) {
    const present = has(filter, field);
    if (present && filter.type !== type) {
      out.push({ path: [...path, field], message: `can only be set when type is ${type} (type is ${filter.type})` });
    } else if (!present && filter.type === type) {
      out.push({ path, message: `missing required field "${field}" for type ${type}` });
    }
  }
}

/** Filters of these types may appear at most once in a list. */
export function checkNotRepeated(filters: any[], types: readonly string[], path: FieldPath, out: ValidationIssue[]): void {
  const first = new Map<string, number>();
  filters.forEach((f, i) => {
    if (!types.includes(f.type)) return;
    const j = first.get(f.type);
    if (j === undefined) first.set(f.type, i);
    else out.push({ path: [...path, i, 'type'], message: `${f.type} filter cannot be repeated (also filters[${j}])` });
  });
}

/** HTTPHeaderFilter: set/add are maps keyed by name, and one action per header name (case-insensitive). */
export function checkHeaderFilter(hf: any, path: FieldPath, out: ValidationIssue[]): void {
  checkUniqueBy(list(hf.set), (h) => h.name, [...path, 'set'], 'name', (n, j) => `duplicate header "${n}" (also set[${j}])`, out);
  checkUniqueBy(list(hf.add), (h) => h.name, [...path, 'add'], 'name', (n, j) => `duplicate header "${n}" (also add[${j}])`, out);
  const actions: [section: 'set' | 'add' | 'remove', names: string[]][] = [
    ['set', list(hf.set).map((h) => String(h.name))],
    ['add', list(hf.add).map((h) => String(h.name))],
    ['remove', list(hf.remove).map(String)],
  ];
  const first = new Map<string, { section: string; index: number }>();
  for (const [section, names] of actions) {
    names.forEach((name, i) => {
      const key = name.toLowerCase();
      const prev = first.get(key);
      if (!prev) first.set(key, { section, index: i });
      else if (prev.section !== section) {
        const at = section === 'remove' ? [...path, section, i] : [...path, section, i, 'name'];
        out.push({ path: at, message: `header "${key}" already has an action (${prev.section}[${prev.index}]); only one action per header name is permitted` });
      }
    });
  }
}

export function checkMirrorFilter(m: any, path: FieldPath, out: ValidationIssue[]): void {
  checkBackendObjectRef(m.backendRef, [...path, 'backendRef'], out);
  if (has(m, 'percent') && has(m, 'fraction')) {
    out.push({ path, message: 'Only one of percent or fraction may be specified in HTTPRequestMirrorFilter' });
  }
  if (has(m, 'fraction') && m.fraction.numerator > (m.fraction.denominator ?? 100)) {
    out.push({ path: [...path, 'fraction', 'numerator'], message: 'numerator must be less than or equal to denominator' });
  }
}

export function checkSessionPersistence(sp: any, path: FieldPath, out: ValidationIssue[]): void {
  if (sp?.cookieConfig?.lifetimeType === 'Permanent' && !has(sp, 'absoluteTimeout')) {
    out.push({ path, message: 'AbsoluteTimeout must be specified when cookie lifetimeType is Permanent' });
  }
}

export function checkTimeouts(t: any, path: FieldPath, out: ValidationIssue[]): void {
  if (!has(t, 'request') || !has(t, 'backendRequest')) return;
  const request = gepDurationMs(t.request);
  if (request !== 0 && gepDurationMs(t.backendRequest) > request) {
    out.push({ path: [...path, 'backendRequest'], message: 'backendRequest timeout cannot be longer than request timeout' });
  }
}

/** Named matches (headers, queryParams) in `field` of a match: each name once, regex values compiled. */
export function checkNamedMatches(items: any[], matchAt: FieldPath, field: string, out: ValidationIssue[]): void {
  const seen = new Map<string, number>();
  items.forEach((h, i) => {
    const first = seen.get(h.name);
    if (first === undefined) seen.set(h.name, i);
    else out.push({ path: [...matchAt, field, i, 'name'], message: `duplicate name "${h.name}" (also ${field}[${first}])` });
    if (h.type === 'RegularExpression') checkRegex(h.value, [...matchAt, field, i, 'value'], out);
  });
}

/** The checks of the filters both route kinds have: type and field agree, header modifiers, mirror. */
export function checkSharedFilter(f: any, fields: Record<string, string>, at: FieldPath, out: ValidationIssue[]): void {
  checkFilterUnion(f, fields, at, out);
  if (has(f, 'requestHeaderModifier')) checkHeaderFilter(f.requestHeaderModifier, [...at, 'requestHeaderModifier'], out);
  if (has(f, 'responseHeaderModifier')) checkHeaderFilter(f.responseHeaderModifier, [...at, 'responseHeaderModifier'], out);
  if (has(f, 'requestMirror')) checkMirrorFilter(f.requestMirror, [...at, 'requestMirror'], out);
}

type Check = (value: any, at: FieldPath, out: ValidationIssue[]) => void;

/** A rule's backendRefs: a Service needs a port, and each ref's own filters are checked as the rule's are. */
export function checkBackendRefs(refs: any[], ruleAt: FieldPath, checkFilters: Check, out: ValidationIssue[]): void {
  refs.forEach((b, i) => {
    checkBackendObjectRef(b, [...ruleAt, 'backendRefs', i], out);
    checkFilters(list(b.filters), [...ruleAt, 'backendRefs', i, 'filters'], out);
  });
}

/** A route: parentRefs, hostnames and rules, then each rule by the kind's own `checkRule`. */
export function checkRoute(route: any, checkRule: Check, out: ValidationIssue[]): void {
  const spec = route.spec ?? {};
  checkParentRefs(list(spec.parentRefs), out);
  checkHostnames(list(spec.hostnames), out);
  const rules = list(spec.rules);
  checkRules(rules, out);
  rules.forEach((r, i) => checkRule(r, ['spec', 'rules', i], out));
}
