// AuthorizationPolicy (security.istio.io/v1) → the 'istio.authorization' filter
// of one hop.
//
// Validation is Istio's (pkg/config/validation ValidateAuthorizationPolicy,
// pkg/config/security ValidateAttribute) plus Portcullis' own refusals
// (experimental keys, unknown fields). Every problem is a ConfigError pointing
// at the field. What an invalid policy then does follows Istio's RBAC builder
// (pilot/pkg/security/authz/model.go checkError), never failing open:
// - ALLOW: a rule with any error is dropped (a smaller allow). The policy still
//   counts as an ALLOW policy of its hops, so if nothing is left it allows
//   nothing — the hop does not fall back to "no ALLOW policy, allow all".
// - DENY, CUSTOM (and AUDIT): the erroneous value, field or condition is left
//   out of its rule, which therefore matches more requests (a wider deny).
// - A policy that cannot be read as a whole (spec not an object, unknown
//   action, DENY/CUSTOM without rules, provider misuse, bad selector/targetRef,
//   unknown spec field): ALLOW allows nothing; DENY, CUSTOM or an unreadable
//   action denies every request on its hops; AUDIT is dropped.
// - CUSTOM naming a provider that is unknown, invalid or unresolvable, or
//   several providers on one hop: its rules become DENY rules (Istio's
//   getBadCustomDenyRules) — what would have been checked is refused.
// One policy's errors never affect another policy.
import { DRY_RUN_ANNOTATION, dryRunAnnotation } from '../../policy/dry-run.ts';
import type { ConfigError } from '../../resources/errors.ts';
import { formatPath } from '../../resources/errors.ts';
import type { LoadedResource, Resource } from '../../resources/types.ts';
import { namespaceOf, resourceKey } from '../../resources/types.ts';
import type { IRFilter, ResourceStatus } from '../../ir/types.ts';
import type { ExtAuthzConfig } from '../../authz/ext-authz/types.ts';
import { parseCidr } from '../../authz/ip-match.ts';
import { validatePathTemplate } from '../../authz/path-template.ts';
import {
  ISTIO_AUTHORIZATION,
  type IstioAttribute,
  type IstioAuthorizationConfig,
  type IstioCondition,
  type IstioPolicy,
  type IstioRule,
} from '../../ir/istio.ts';
import { resolveExtAuthzProvider, type MeshProviders, type ServiceResolver } from './mesh-config.ts';
import { validatePolicyTargeting } from './select.ts';

export type AuthorizationAction = 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM';

export interface ParsedAuthorizationPolicy {
  /** "AuthorizationPolicy/ns/name". */
  key: string;
  /** The action it acts with (an unreadable action acts as DENY). */
  action: AuthorizationAction;
  /** CUSTOM: spec.provider.name. */
  provider?: string;
  dryRun: boolean;
  /** The rules it enforces, after Istio's error handling. */
  rules: IstioRule[];
  /** Could not be read as a whole (see the header comment for what it then does). */
  unusable: boolean;
  errors: ConfigError[];
  /** Short account of what the errors changed, for the trace and status. */
  degraded?: string;
}

export interface AuthorizationFilterResult {
  /** Absent when no AuthorizationPolicy applies to the hop. */
  filter?: IRFilter;
  /** Every policy's errors (a policy on several hops repeats them: dedupe by object+path+message). */
  errors: ConfigError[];
  /** One entry per AuthorizationPolicy given. */
  status: ResourceStatus[];
}

const SPEC_FIELDS = new Set(['selector', 'targetRef', 'targetRefs', 'action', 'provider', 'rules']);
const ACTIONS: AuthorizationAction[] = ['ALLOW', 'DENY', 'AUDIT', 'CUSTOM'];

/** A rule that matches every request (an unusable DENY policy's only rule). */
const MATCH_ALL: IstioRule = Object.freeze({ index: -1, from: null, to: null, when: [] }) as IstioRule;

type FieldSpec = { attr: IstioAttribute; not: boolean };

/** Istio names every field twice: `ipBlocks` matches, `notIpBlocks` must not match. */
function withNegations(fields: Record<string, IstioAttribute>): Record<string, FieldSpec> {
  const out: Record<string, FieldSpec> = {};
  for (const [name, attr] of Object.entries(fields)) {
    out[name] = { attr, not: false };
    out[`not${name[0]!.toUpperCase()}${name.slice(1)}`] = { attr, not: true };
  }
  return out;
}

const SOURCE_FIELDS = withNegations({
  principals: 'source.principal',
  requestPrincipals: 'request.auth.principal',
  namespaces: 'source.namespace',
  serviceAccounts: 'source.serviceAccount',
  ipBlocks: 'source.ip',
  remoteIpBlocks: 'remote.ip',
});

const OPERATION_FIELDS = withNegations({
  hosts: 'request.host',
  ports: 'destination.port',
  methods: 'request.method',
  paths: 'request.path',
});

/** What a `from` and a `to` entry hold. */
const ENTRY_SHAPES = {
  from: { field: 'source', specs: SOURCE_FIELDS },
  to: { field: 'operation', specs: OPERATION_FIELDS },
} as const;

const SIMPLE_KEYS = new Set<IstioAttribute>([
  'source.ip', 'remote.ip', 'source.namespace', 'source.serviceAccount', 'source.principal',
  'request.auth.principal', 'request.auth.audiences', 'request.auth.presenter',
  'destination.ip', 'destination.port', 'connection.sni',
]);

/** Source fields and `when` keys Istio refuses with CUSTOM ("currently not supported with CUSTOM action"). */
const CUSTOM_UNSUPPORTED = new Set<IstioAttribute>([
  'source.namespace', 'source.serviceAccount', 'source.principal', 'request.auth.principal',
  'request.auth.audiences', 'request.auth.presenter', 'request.auth.claims',
]);

type Path = (string | number)[];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Present and not an empty list (a wrongly typed value is reported where it is read). */
function isSet(v: unknown): boolean {
  return v !== undefined && v !== null && !(Array.isArray(v) && v.length === 0);
}

/** Istio's validateMapKey + extractNameInNestedBrackets: "[a][b]" → ["a","b"], "[a.b]" → ["a.b"]. */
function bracketNames(rest: string, nested: boolean): string[] | undefined {
  if (!rest.startsWith('[') || !rest.endsWith(']') || rest.length < 3) return undefined;
  if (!nested) return [rest.slice(1, -1)];
  const names: string[] = [];
  let begin = 0;
  while (begin < rest.length) {
    let end = -1;
    if (rest[begin] === '[') {
      for (let i = begin + 1; i < rest.length; i++) {
        if (rest[i] === '[') break;
        if (rest[i] === ']') {
          end = i;
          break;
        }
      }
    }
    if (end < 0) return [rest.slice(1, -1)];
    names.push(rest.slice(begin + 1, end));
    begin = end + 1;
  }
  return names.some((n) => n === '') ? undefined : names;
}

type ParsedKey = { attr: IstioAttribute; header?: string; claim?: string[] } | { error: string };

/** A `when` key, as Istio's ValidateAttribute and authz model read it. */
export function parseConditionKey(key: string): ParsedKey {
  if (SIMPLE_KEYS.has(key as IstioAttribute)) return { attr: key as IstioAttribute };
  if (key.startsWith('request.headers[')) {
    const names = bracketNames(key.slice('request.headers'.length), false);
    if (!names || names[0] === '') return { error: `bad key (${key}): should have format request.headers[<name>]` };
    return { attr: 'request.headers', header: names[0].toLowerCase() };
  }
  if (key.startsWith('request.auth.claims[')) {
    const names = bracketNames(key.slice('request.auth.claims'.length), true);
    if (!names) return { error: `bad key (${key}): should have format request.auth.claims[<name>] or request.auth.claims[<a>][<b>]` };
    return { attr: 'request.auth.claims', claim: names };
  }
  if (key.startsWith('request.experimental.inline.headers') || key.startsWith('experimental.envoy.filters.')) {
    return { error: `attribute ${key} is experimental in Istio and not supported by Portcullis` };
  }
  if (key === 'destination.namespace') return { error: `attribute ${key} is replaced by the metadata.namespace` };
  if (key.startsWith('destination.labels')) return { error: `attribute ${key} is replaced by the workload selector` };
  if (key === 'destination.name' || key === 'destination.user') return { error: `deprecated attribute ${key}: only supported in v1alpha1` };
  return { error: `unknown attribute: ${key}` };
}

/** One value for an attribute: the normalized value, or why it is invalid. */
function checkValue(attr: IstioAttribute, v: unknown, policyNs: string): { value: string } | { error: string } {
  if (attr === 'destination.port' && typeof v === 'number') v = String(v);
  if (typeof v !== 'string') return { error: 'must be a string' };
  if (v === '') return { error: 'empty value not allowed' };
  switch (attr) {
    case 'source.ip':
    case 'remote.ip':
    case 'destination.ip': {
      const r = parseCidr(v);
      return typeof r === 'string' ? { error: r } : { value: v };
    }
    case 'destination.port':
      return /^[0-9]{1,5}$/.test(v) && Number(v) <= 65535 ? { value: String(Number(v)) } : { error: `bad port (${v})` };
    case 'source.serviceAccount': {
      if (v.includes('*')) return { error: `wildcard not allowed in service account ${v}` };
      if (v.length > 320) return { error: `service account ${v} exceeds 320 characters` };
      const parts = v.split('/');
      if (parts.length > 2 || parts.some((p) => p === '')) {
        return { error: `expected format 'serviceAccount' or 'namespace/serviceAccount', found "${v}"` };
      }
      return { value: parts.length === 2 ? v : `${policyNs}/${v}` };
    }
    case 'request.path': {
      const e = validatePathTemplate(v);
      return e ? { error: e } : { value: v };
    }
    default:
      return { value: v };
  }
}

class PolicyParser {
  readonly errors: ConfigError[] = [];
  readonly notes: string[] = [];
  readonly #lr: LoadedResource;
  readonly #key: string;
  readonly #ns: string;
  action: AuthorizationAction = 'ALLOW';

  constructor(lr: LoadedResource) {
    this.#lr = lr;
    this.#key = resourceKey(lr.resource);
    this.#ns = namespaceOf(lr.resource);
  }

  err(path: Path, message: string): void {
    const src = this.#lr.source;
    this.errors.push({
      object: this.#key,
      path: formatPath(path),
      message,
      source: src,
      line: src?.lineOf?.(path) ?? src?.line,
    });
  }

  /** With CUSTOM, Istio refuses identity-based matching (the external authorizer does that). */
  #customRefuses(attr: IstioAttribute, path: Path): boolean {
    if (this.action !== 'CUSTOM' || !CUSTOM_UNSUPPORTED.has(attr)) return false;
    this.err(path, `${String(path[path.length - 1])} is currently not supported with CUSTOM action`);
    return true;
  }

  /** A list field: undefined when absent, 'bad' (reported at path) when it is not a list. */
  #list(v: unknown, path: Path, message: string): unknown[] | undefined | 'bad' {
    if (v === undefined || v === null) return undefined;
    if (Array.isArray(v)) return v;
    this.err(path, message);
    return 'bad';
  }

  /** A list of values; returns the valid ones and whether any was bad. */
  #values(attr: IstioAttribute, raw: unknown, path: Path): { values: string[]; bad: boolean } {
    const v = this.#list(raw, path, 'must be a list of strings');
    if (v === 'bad') return { values: [], bad: true };
    if (v === undefined) return { values: [], bad: false };
    let bad = false;
    const values: string[] = [];
    if (attr === 'source.serviceAccount' && v.length > 16) {
      this.err(path, 'may not have more than 16 values');
      bad = true;
    }
    v.forEach((item, i) => {
      const r = checkValue(attr, item, this.#ns);
      if ('error' in r) {
        this.err([...path, i], r.error);
        bad = true;
      } else values.push(r.value);
    });
    return { values, bad };
  }

  /** from[j].source or to[j].operation → conditions. */
  #fields(obj: Record<string, unknown>, specs: Record<string, FieldSpec>, path: Path): { conds: IstioCondition[]; bad: boolean } {
    let bad = false;
    const byAttr = new Map<IstioAttribute, IstioCondition>();
    for (const k of Object.keys(obj)) {
      const spec = specs[k];
      if (!spec) {
        this.err([...path, k], 'unknown field');
        bad = true;
        continue;
      }
      if (obj[k] === undefined || obj[k] === null) continue;
      if (this.#customRefuses(spec.attr, [...path, k])) {
        bad = true;
        continue;
      }
      const r = this.#values(spec.attr, obj[k], [...path, k]);
      bad ||= r.bad;
      if (r.values.length === 0) continue;
      let c = byAttr.get(spec.attr);
      if (!c) byAttr.set(spec.attr, (c = { key: spec.attr, values: [], notValues: [] }));
      (spec.not ? c.notValues : c.values).push(...r.values);
    }
    return { conds: [...byAttr.values()], bad };
  }

  /** from[j] (its `source`) or to[j] (its `operation`) → conditions. */
  #entry(entry: unknown, name: 'from' | 'to', path: Path): { conds: IstioCondition[]; bad: boolean } {
    const { field, specs } = ENTRY_SHAPES[name];
    if (!isObject(entry)) {
      this.err(path, `\`${name}\` entries must be objects with ${field === 'source' ? 'a' : 'an'} \`${field}\``);
      return { conds: [], bad: true };
    }
    let bad = false;
    for (const k of Object.keys(entry)) {
      if (k !== field) {
        this.err([...path, k], 'unknown field');
        bad = true;
      }
    }
    const body = entry[field];
    if (!isObject(body)) {
      this.err([...path, field], `\`${name}.${field}\` must not be nil`);
      return { conds: [], bad: true };
    }
    if (!Object.keys(specs).some((k) => isSet(body[k]))) {
      this.err([...path, field], `\`${name}.${field}\` must not be empty`);
      bad = true;
    }
    const r = this.#fields(body, specs, [...path, field]);
    let conds = r.conds;
    const has = (k: string) => Array.isArray(body[k]) && (body[k] as unknown[]).length > 0;
    if (name === 'from' && ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some(has) && ['serviceAccounts', 'notServiceAccounts'].some(has)) {
      this.err([...path, field], 'cannot set serviceAccounts with namespaces or principals');
      bad = true;
      conds = conds.filter((c) => c.key !== 'source.serviceAccount');
    }
    return { conds, bad: bad || r.bad };
  }

  #entries(raw: unknown, name: 'from' | 'to', path: Path): { entries: IstioCondition[][] | null; bad: boolean } {
    const list = this.#list(raw, path, 'must be a list');
    if (list === 'bad') return { entries: null, bad: true };
    if (list === undefined) return { entries: null, bad: false };
    if (list.length === 0) {
      this.err(path, `\`${name}\` must not be empty`);
      return { entries: null, bad: true };
    }
    let bad = false;
    const entries = list.map((e, j) => {
      const r = this.#entry(e, name, [...path, j]);
      bad ||= r.bad;
      return r.conds;
    });
    return { entries, bad };
  }

  #conditions(raw: unknown, path: Path): { conds: IstioCondition[]; bad: boolean } {
    const list = this.#list(raw, path, 'must be a list');
    if (list === 'bad') return { conds: [], bad: true };
    if (list === undefined) return { conds: [], bad: false };
    let bad = false;
    const conds: IstioCondition[] = [];
    list.forEach((c, k) => {
      const at = [...path, k];
      if (!isObject(c)) {
        this.err(at, 'must be an object with key and values/notValues');
        bad = true;
        return;
      }
      for (const f of Object.keys(c)) {
        if (f !== 'key' && f !== 'values' && f !== 'notValues') {
          this.err([...at, f], 'unknown field');
          bad = true;
        }
      }
      if (typeof c.key !== 'string' || c.key === '') {
        this.err([...at, 'key'], '`key` must not be empty');
        bad = true;
        return;
      }
      const key = parseConditionKey(c.key);
      if ('error' in key) {
        this.err([...at, 'key'], key.error);
        bad = true;
        return;
      }
      if (this.#customRefuses(key.attr, [...at, 'key'])) {
        bad = true;
        return;
      }
      const empty = (v: unknown) => v === undefined || v === null || (Array.isArray(v) && v.length === 0);
      if (empty(c.values) && empty(c.notValues)) {
        this.err(at, `at least one of \`values\` or \`notValues\` must be set for key ${c.key}`);
        bad = true;
        return;
      }
      const pos = this.#values(key.attr, c.values, [...at, 'values']);
      const neg = this.#values(key.attr, c.notValues, [...at, 'notValues']);
      bad ||= pos.bad || neg.bad;
      if (pos.values.length === 0 && neg.values.length === 0) return;
      conds.push({ key: key.attr, ...(key.header !== undefined ? { header: key.header } : {}), ...(key.claim ? { claim: key.claim } : {}), values: pos.values, notValues: neg.values });
    });
    return { conds, bad };
  }

  /** One rule; undefined when an ALLOW rule has to be dropped. */
  rule(rule: unknown, i: number): IstioRule | undefined {
    const path: Path = ['spec', 'rules', i];
    if (!isObject(rule)) {
      this.err(path, '`rule` must be an object');
      return this.#settle(undefined, i, true);
    }
    let bad = false;
    for (const k of Object.keys(rule)) {
      if (k !== 'from' && k !== 'to' && k !== 'when') {
        this.err([...path, k], 'unknown field');
        bad = true;
      }
    }
    const from = this.#entries(rule.from, 'from', [...path, 'from']);
    const to = this.#entries(rule.to, 'to', [...path, 'to']);
    const when = this.#conditions(rule.when, [...path, 'when']);
    bad ||= from.bad || to.bad || when.bad;
    return this.#settle({ index: i, from: from.entries, to: to.entries, when: when.conds }, i, bad);
  }

  /** Istio's checkError: a bad ALLOW rule is dropped; other actions keep what was valid (wider). */
  #settle(r: IstioRule | undefined, i: number, bad: boolean): IstioRule | undefined {
    if (!bad) return r;
    if (this.action === 'ALLOW') {
      this.notes.push(`rule ${i} ignored`);
      return undefined;
    }
    this.notes.push(`rule ${i} widened`);
    return r ?? { index: i, from: null, to: null, when: [] };
  }
}

const cache = new WeakMap<Resource, ParsedAuthorizationPolicy>();

/** Validates and normalizes one AuthorizationPolicy (memoized per resource object). */
export function parseAuthorizationPolicy(lr: LoadedResource): ParsedAuthorizationPolicy {
  const hit = cache.get(lr.resource);
  if (hit) return hit;
  const parsed = parseUncached(lr);
  cache.set(lr.resource, parsed);
  return parsed;
}

function parseUncached(lr: LoadedResource): ParsedAuthorizationPolicy {
  const r = lr.resource;
  const p = new PolicyParser(lr);
  const key = resourceKey(r);
  let unusable = false;
  // One reading of the shadow switch for every policy family (src/policy/dry-run.ts).
  const shadow = dryRunAnnotation(r.metadata.annotations);
  let dryRun = shadow.dryRun;
  if (shadow.error) p.err(['metadata', 'annotations', DRY_RUN_ANNOTATION], shadow.error);

  const spec = r.spec === undefined || r.spec === null ? {} : r.spec;
  if (!isObject(spec)) {
    p.err(['spec'], 'must be an object');
    return finish(key, 'DENY', undefined, dryRun, [], true, p);
  }
  for (const k of Object.keys(spec)) {
    if (!SPEC_FIELDS.has(k)) {
      p.err(['spec', k], 'unknown field');
      unusable = true;
    }
  }
  for (const e of validatePolicyTargeting(r)) {
    p.errors.push({ ...e, source: lr.source, line: lr.source?.line });
    unusable = true;
  }

  const a = spec.action;
  if (a === undefined || a === null || a === 0) p.action = 'ALLOW';
  else if (typeof a === 'number' && Number.isInteger(a) && a >= 0 && a < ACTIONS.length) p.action = ACTIONS[a];
  else if (typeof a === 'string' && (ACTIONS as string[]).includes(a)) p.action = a as AuthorizationAction;
  else {
    p.err(['spec', 'action'], `unknown action ${JSON.stringify(a)}: must be ALLOW, DENY, AUDIT or CUSTOM`);
    p.action = 'DENY';
    unusable = true;
  }
  if (dryRun && p.action === 'CUSTOM') {
    p.err(['metadata', 'annotations', DRY_RUN_ANNOTATION], 'dry-run is not supported for CUSTOM policies; the policy is enforced');
    dryRun = false;
  }

  let provider: string | undefined;
  if (spec.provider !== undefined && spec.provider !== null) {
    if (p.action !== 'CUSTOM') {
      p.err(['spec', 'provider'], `\`provider\` must not be with non CUSTOM action, found ${p.action}`);
      unusable = true;
    } else if (!isObject(spec.provider) || typeof spec.provider.name !== 'string' || spec.provider.name === '') {
      p.err(['spec', 'provider', 'name'], '`provider.name` must not be empty');
      unusable = true;
    } else {
      provider = spec.provider.name;
      for (const k of Object.keys(spec.provider)) if (k !== 'name') p.err(['spec', 'provider', k], 'unknown field');
    }
  }

  const rawRules = spec.rules;
  let ruleList: unknown[] = [];
  if (rawRules !== undefined && rawRules !== null) {
    if (!Array.isArray(rawRules)) {
      p.err(['spec', 'rules'], 'must be a list');
      unusable = true;
    } else ruleList = rawRules;
  }
  if (ruleList.length === 0 && (p.action === 'DENY' || p.action === 'CUSTOM') && Array.isArray(rawRules ?? [])) {
    p.err(['spec', 'rules'], `${p.action} action without \`rules\` is meaningless as it will never be triggered, add an empty rule \`{}\` if you want it be triggered for every request`);
    unusable = true;
  }
  if (p.action === 'CUSTOM' && provider === undefined && !unusable) {
    p.err(['spec', 'provider', 'name'], '`provider.name` must not be empty');
    unusable = true;
  }

  const rules: IstioRule[] = [];
  ruleList.forEach((rule, i) => {
    const built = p.rule(rule, i);
    if (built) rules.push(built);
  });
  return finish(key, p.action, provider, dryRun, rules, unusable, p);
}

function finish(
  key: string, action: AuthorizationAction, provider: string | undefined, dryRun: boolean,
  rules: IstioRule[], unusable: boolean, p: PolicyParser,
): ParsedAuthorizationPolicy {
  let effective = rules;
  let degraded: string | undefined;
  if (unusable) {
    if (action === 'ALLOW') {
      effective = [];
      degraded = 'rejected at load; allows nothing';
    } else if (action === 'AUDIT') {
      effective = [];
      degraded = 'rejected at load; audits nothing';
    } else {
      effective = [MATCH_ALL];
      degraded = 'rejected at load; denies every request';
    }
  } else if (p.notes.length > 0) {
    degraded = p.notes.join(', ');
  }
  return {
    key, action, ...(provider !== undefined ? { provider } : {}), dryRun, rules: effective, unusable,
    errors: p.errors, ...(degraded ? { degraded } : {}),
  };
}

function irPolicy(p: ParsedAuthorizationPolicy, degradedOverride?: string): IstioPolicy {
  const degraded = degradedOverride ?? p.degraded;
  return { origin: p.key, rules: p.rules, ...(degraded ? { degraded } : {}) };
}

function statusOf(p: ParsedAuthorizationPolicy, extra: string[]): ResourceStatus {
  const problems = [...p.errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)), ...extra];
  const accepted = problems.length === 0;
  let message = 'Accepted';
  if (!accepted) {
    const shown = problems.slice(0, 5).join('; ');
    const more = problems.length > 5 ? ` (+${problems.length - 5} more)` : '';
    message = `${shown}${more}${p.degraded ? ` — ${p.degraded}` : ''}`;
  }
  return {
    object: p.key,
    accepted,
    conditions: [{ type: 'Accepted', status: accepted ? 'True' : 'False', reason: accepted ? 'Accepted' : 'Invalid', message }],
  };
}

/**
 * Every AuthorizationPolicy's own errors, whether or not it selects a hop: what
 * is wrong with a policy never depends on which routes exist (a policy that
 * selects nothing is still reported as `portcullis validate` would with routes).
 */
export function checkAuthorizationPolicies(policies: LoadedResource[]): { errors: ConfigError[]; status: ResourceStatus[] } {
  const parsed = policies.filter((lr) => lr.resource.kind === 'AuthorizationPolicy').map(parseAuthorizationPolicy);
  return { errors: parsed.flatMap((p) => p.errors), status: parsed.filter((p) => p.errors.length > 0).map((p) => statusOf(p, [])) };
}

/** The ext_authz config of a CUSTOM provider, or why it cannot be used. */
function lookupProvider(name: string, mesh: MeshProviders, resolve: ServiceResolver): ExtAuthzConfig | string {
  const p = mesh.providers.get(name);
  if (p) return resolveExtAuthzProvider(p, resolve);
  const invalid = mesh.invalid.get(name);
  if (invalid !== undefined) return `found errors in provider ${name}: ${invalid}`;
  if (mesh.others.has(name)) return `extension provider ${name} is not an envoyExtAuthzHttp or envoyExtAuthzGrpc provider`;
  const known = [...mesh.providers.keys()].sort();
  return `available providers are [${known.join(', ')}] but found "${name}"`;
}

/**
 * The 'istio.authorization' filter for one hop, from the AuthorizationPolicies
 * that select it (see select.ts). `hop` names the hop in traces:
 * "Gateway/ns/name" or "Service/ns/name".
 */
export function buildAuthorizationFilter(
  policies: LoadedResource[],
  mesh: MeshProviders,
  resolve: ServiceResolver,
  opts: { hop?: string } = {},
): AuthorizationFilterResult {
  const errors: ConfigError[] = [];
  const extraProblems = new Map<string, string[]>();
  const parsed = policies.filter((lr) => lr.resource.kind === 'AuthorizationPolicy').map(parseAuthorizationPolicy);
  const cfg: IstioAuthorizationConfig = { hop: opts.hop ?? 'this hop', deny: [], allow: null, audit: [], dryRun: { deny: [], allow: null } };
  const custom: ParsedAuthorizationPolicy[] = [];

  for (const p of parsed) {
    errors.push(...p.errors);
    if (p.dryRun) {
      if (p.action === 'ALLOW') (cfg.dryRun.allow ??= []).push(irPolicy(p));
      else if (p.action === 'DENY') cfg.dryRun.deny.push(irPolicy(p));
      else cfg.audit.push(irPolicy(p)); // AUDIT never enforces anyway
      continue;
    }
    if (p.action === 'CUSTOM' && !p.unusable) custom.push(p);
    else if (p.action === 'ALLOW') (cfg.allow ??= []).push(irPolicy(p));
    else if (p.action === 'AUDIT') cfg.audit.push(irPolicy(p));
    else cfg.deny.push(irPolicy(p)); // DENY, and unusable CUSTOM / unreadable actions
  }

  if (custom.length > 0) {
    const names = [...new Set(custom.map((p) => p.provider!))].sort();
    let provider: ExtAuthzConfig | string;
    if (names.length > 1) provider = `only 1 provider can be used per workload, found multiple providers: [${names.join(', ')}]`;
    else provider = lookupProvider(names[0], mesh, resolve);
    if (typeof provider === 'string') {
      for (const p of custom) {
        const message = `${provider}; requests matching its rules are denied`;
        errors.push({ object: p.key, path: 'spec.provider.name', message });
        extraProblems.set(p.key, [`spec.provider.name: ${message}`]);
        cfg.deny.push(irPolicy(p, `CUSTOM provider unusable (${provider}); its rules deny`));
      }
    } else {
      cfg.custom = { provider, policies: custom.map((p) => irPolicy(p)) };
    }
  }

  const status = parsed.map((p) => statusOf(p, extraProblems.get(p.key) ?? []));
  if (parsed.length === 0) return { errors, status };
  return {
    filter: { type: ISTIO_AUTHORIZATION, origin: parsed.map((p) => p.key).join(', '), config: cfg },
    errors,
    status,
  };
}
