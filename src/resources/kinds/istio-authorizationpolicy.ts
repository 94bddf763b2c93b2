// AuthorizationPolicy (security.istio.io/v1, v1beta1): the CRD schema plus
// the rules istiod's validation webhook enforces (ValidateAuthorizationPolicy).
import { obj, arr, str, oneOfValues, resourceSchema, STRING } from './common.ts';
import { WORKLOAD_SELECTOR, POLICY_TARGET_REFERENCE, TARGET_REFS, checkPolicyScope } from './istio-common.ts';
import { list, has, isIPOrCIDR } from './check-helpers.ts';
import type { FieldPath, ValidationIssue } from './issues.ts';

const STRINGS = arr(STRING);

const SOURCE_FIELDS = [
  'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals', 'namespaces', 'notNamespaces',
  'ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks', 'serviceAccounts', 'notServiceAccounts',
] as const;

const OPERATION_FIELDS = ['hosts', 'notHosts', 'ports', 'notPorts', 'methods', 'notMethods', 'paths', 'notPaths'] as const;

const SOURCE = obj({
  ...Object.fromEntries(SOURCE_FIELDS.map((f) => [f, STRINGS])),
  serviceAccounts: arr(STRING, { maxItems: 16 }),
  notServiceAccounts: arr(STRING, { maxItems: 16 }),
});

const OPERATION = obj(Object.fromEntries(OPERATION_FIELDS.map((f) => [f, STRINGS])));

const RULE = obj({
  from: arr(obj({ source: SOURCE }), { maxItems: 512 }),
  to: arr(obj({ operation: OPERATION }), { maxItems: 512 }),
  when: arr(obj({ key: STRING, values: STRINGS, notValues: STRINGS }, ['key'])),
});

export const authorizationPolicySchema = resourceSchema({
  fields: {
    spec: obj({
      selector: WORKLOAD_SELECTOR,
      targetRef: POLICY_TARGET_REFERENCE,
      targetRefs: TARGET_REFS,
      rules: arr(RULE, { maxItems: 512 }),
      action: oneOfValues(['ALLOW', 'DENY', 'AUDIT', 'CUSTOM']),
      provider: obj({ name: str({}) }),
    }),
  },
});

// --- semantic checks ---

const IP_FIELDS = new Set(['ipBlocks', 'notIpBlocks', 'remoteIpBlocks', 'notRemoteIpBlocks']);
const CUSTOM_UNSUPPORTED_SOURCE = ['namespaces', 'notNamespaces', 'serviceAccounts', 'notServiceAccounts', 'principals', 'notPrincipals', 'requestPrincipals', 'notRequestPrincipals'];
const PATH_LITERAL = /^[a-zA-Z0-9-._~%!$&'()+,;:@=]+$/;

/** Port strings: decimal, 0-65535 (security.ValidatePorts). */
function isPort(s: string): boolean {
  return /^[0-9]{1,5}$/.test(s) && Number(s) <= 65535;
}

function checkServiceAccount(v: string): string | undefined {
  if (v.includes('*')) return 'wildcard not allowed';
  if ([...v].length > 320) return 'must be at most 320 characters';
  const parts = v.split('/');
  if (parts.length > 2 || parts.some((p) => p.length === 0)) return `expected format "serviceAccount" or "namespace/serviceAccount" (got "${v}")`;
  return undefined;
}

/** {*} matches one path segment, {**} the rest; {**} must come last (security.CheckValidPathTemplate). */
function pathTemplateError(path: string): string | undefined {
  const templated = path.includes('{*}') || path.includes('{**}');
  let sawAny = false;
  for (const glob of path.replace(/^\/+|\/+$/g, '').split('/')) {
    if ((glob === '{*}' || glob === '{**}') && sawAny) return '{**} must be the last operator in a path template';
    if (glob === '{**}') sawAny = true;
    if (glob === '{*}' || glob === '{**}') continue;
    if (glob.includes('{') || glob.includes('}')) return "contains '{' or '}' beyond a supported path template ({*} or {**})";
    if (templated && !PATH_LITERAL.test(glob)) return `contains segment "${glob}" with characters not allowed in a path`;
  }
  return undefined;
}

/** Attribute names allowed in `when` (security.ValidateAttribute), and how their values are checked. */
function conditionKeyError(key: string): string | undefined {
  const bracketed = (prefix: string) => {
    if (!key.startsWith(prefix)) return false;
    const open = key.indexOf('[');
    return key.endsWith(']') && open > 0 && open < key.length - 2;
  };
  const mapKeys = ['request.headers', 'request.experimental.inline.headers', 'request.auth.claims', 'experimental.envoy.filters.'];
  for (const prefix of mapKeys) {
    if (key.startsWith(prefix)) return bracketed(prefix) ? undefined : `bad key "${key}": should have the form ${prefix.replace(/\.$/, '')}[name]`;
  }
  const plain = ['source.ip', 'remote.ip', 'source.namespace', 'source.serviceAccount', 'source.principal', 'request.auth.principal',
    'request.auth.audiences', 'request.auth.presenter', 'destination.ip', 'destination.port', 'connection.sni'];
  if (plain.includes(key)) return undefined;
  if (key === 'destination.namespace') return 'attribute destination.namespace is replaced by the metadata.namespace';
  if (key.startsWith('destination.labels')) return 'attribute destination.labels is replaced by the workload selector';
  if (key === 'destination.name' || key === 'destination.user') return `deprecated attribute ${key}: only supported in v1alpha1`;
  return `unknown attribute "${key}"`;
}

function checkConditionValues(key: string, values: string[], at: FieldPath, out: ValidationIssue[]): void {
  values.forEach((v, i) => {
    if (v === '') out.push({ path: [...at, i], message: 'empty value not allowed' });
    else if ((key === 'source.ip' || key === 'remote.ip' || key === 'destination.ip') && !isIPOrCIDR(v)) {
      out.push({ path: [...at, i], message: `must be an IP address or CIDR block (got "${v}")` });
    } else if (key === 'destination.port' && !isPort(v)) {
      out.push({ path: [...at, i], message: `must be a port number from 0 to 65535 (got "${v}")` });
    } else if (key === 'source.serviceAccount') {
      const err = checkServiceAccount(v);
      if (err) out.push({ path: [...at, i], message: err });
    }
  });
}

function checkSource(src: any, at: FieldPath, custom: boolean, out: ValidationIssue[]): void {
  const used = SOURCE_FIELDS.filter((f) => list(src[f]).length > 0);
  if (used.length === 0) out.push({ path: at, message: 'source must not be empty: set at least one field' });
  const identity = ['principals', 'notPrincipals', 'namespaces', 'notNamespaces'].some((f) => list(src[f]).length > 0);
  if (identity && (list(src.serviceAccounts).length > 0 || list(src.notServiceAccounts).length > 0)) {
    out.push({ path: at, message: 'cannot set serviceAccounts with namespaces or principals' });
  }
  for (const f of SOURCE_FIELDS) {
    list<string>(src[f]).forEach((v, i) => {
      const vat = [...at, f, i];
      if (v === '') out.push({ path: vat, message: 'empty value not allowed' });
      else if (IP_FIELDS.has(f) && !isIPOrCIDR(v)) out.push({ path: vat, message: `must be an IP address or CIDR block (got "${v}")` });
      else if (f === 'serviceAccounts' || f === 'notServiceAccounts') {
        const err = checkServiceAccount(v);
        if (err) out.push({ path: vat, message: err });
      }
    });
    if (custom && CUSTOM_UNSUPPORTED_SOURCE.includes(f) && list(src[f]).length > 0) {
      out.push({ path: [...at, f], message: `${f} is currently not supported with CUSTOM action` });
    }
  }
}

function checkOperation(op: any, at: FieldPath, out: ValidationIssue[]): void {
  if (OPERATION_FIELDS.every((f) => list(op[f]).length === 0)) out.push({ path: at, message: 'operation must not be empty: set at least one field' });
  for (const f of OPERATION_FIELDS) {
    list<string>(op[f]).forEach((v, i) => {
      const vat = [...at, f, i];
      if (v === '') out.push({ path: vat, message: 'empty value not allowed' });
      else if ((f === 'ports' || f === 'notPorts') && !isPort(v)) out.push({ path: vat, message: `must be a port number from 0 to 65535 (got "${v}")` });
      else if (f === 'paths' || f === 'notPaths') {
        const err = pathTemplateError(v);
        if (err) out.push({ path: vat, message: `invalid path "${v}": ${err}` });
      }
    });
  }
}

function checkRule(rule: any, at: FieldPath, custom: boolean, out: ValidationIssue[]): void {
  if (has(rule, 'from') && list(rule.from).length === 0) out.push({ path: [...at, 'from'], message: 'must not be empty (remove it to match any source)' });
  list(rule.from).forEach((f, i) => {
    if (!has(f, 'source')) out.push({ path: [...at, 'from', i], message: 'missing required field "source"' });
    else checkSource(f.source, [...at, 'from', i, 'source'], custom, out);
  });
  if (has(rule, 'to') && list(rule.to).length === 0) out.push({ path: [...at, 'to'], message: 'must not be empty (remove it to match any operation)' });
  list(rule.to).forEach((t, i) => {
    if (!has(t, 'operation')) out.push({ path: [...at, 'to', i], message: 'missing required field "operation"' });
    else checkOperation(t.operation, [...at, 'to', i, 'operation'], out);
  });
  list(rule.when).forEach((c, i) => {
    const cat = [...at, 'when', i];
    if (c.key === '') {
      out.push({ path: [...cat, 'key'], message: 'must not be empty' });
      return;
    }
    const keyErr = conditionKeyError(c.key);
    if (keyErr) out.push({ path: [...cat, 'key'], message: keyErr });
    if (list(c.values).length === 0 && list(c.notValues).length === 0) {
      out.push({ path: cat, message: `at least one of values or notValues must be set for key ${c.key}` });
    }
    if (!keyErr) {
      checkConditionValues(c.key, list(c.values), [...cat, 'values'], out);
      checkConditionValues(c.key, list(c.notValues), [...cat, 'notValues'], out);
    }
    if (custom && (c.key === 'source.namespace' || c.key === 'source.serviceAccount' || c.key === 'source.principal' || c.key.startsWith('request.auth.'))) {
      out.push({ path: [...cat, 'key'], message: `${c.key} is currently not supported with CUSTOM action` });
    }
  });
}

export function checkAuthorizationPolicy(ap: any, out: ValidationIssue[]): void {
  const spec = ap.spec ?? {};
  const action = spec.action ?? 'ALLOW';
  checkPolicyScope(spec, out);
  const rules = list(spec.rules);
  if (action === 'DENY' && rules.length === 0) {
    out.push({ path: ['spec'], message: 'A DENY policy without rules is invalid: it would never be triggered; add an empty rule `{}` to deny every request' });
  }
  if (action === 'CUSTOM') {
    if (rules.length === 0) {
      out.push({ path: ['spec'], message: 'A CUSTOM policy without rules is invalid: it would never be triggered; add an empty rule `{}` to trigger it for every request' });
    }
    if (!has(spec, 'provider')) out.push({ path: ['spec'], message: 'missing required field "provider" for action CUSTOM' });
    else if (!spec.provider.name) out.push({ path: ['spec', 'provider'], message: 'missing required field "name" for action CUSTOM' });
  } else if (has(spec, 'provider')) {
    out.push({ path: ['spec', 'provider'], message: `can only be set when action is CUSTOM (action is ${action})` });
  }
  rules.forEach((r, i) => checkRule(r, ['spec', 'rules', i], action === 'CUSTOM', out));
}
