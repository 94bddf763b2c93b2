// BackendTrafficPolicy (gateway.envoyproxy.io/v1alpha1,
// api/v1alpha1/backendtrafficpolicy_types.go and the types it uses:
// ratelimit, circuitbreaker, healthcheck, loadbalancer, retry, timeout,
// fault_injection, shared_types). Portcullis extensions, each marked below
// and in docs/traffic.md: rateLimit.headers, rule.throttle, and the
// clientSelectors[].consumer selector.
import { type Schema, type Static, obj, arr, str, int, oneOfValues, specResourceSchema, typed, BOOLEAN, STRING, LABEL_SELECTOR } from './common.ts';
import { DURATION, GROUP, HEADER_NAME, KIND, OBJECT_NAME, SECTION_NAME } from './gatewayapi-types.ts';
import { list, has } from './check-helpers.ts';
import { regexError } from '../../match/regex.ts';
import type { ValidationIssue } from './issues.ts';
import { parseCidr } from '../../authz/ip-match.ts';
import { POLICY_TARGET_WITH_NAMESPACE, TARGET_SELECTOR as SHARED_TARGET_SELECTOR } from './envoygateway-policy-targets.ts';

const TARGET_REF = obj({ group: GROUP, kind: KIND, name: OBJECT_NAME, sectionName: SECTION_NAME }, ['group', 'kind', 'name']);
// LABEL_SELECTOR's fields, with the group and kind of what they select.
const TARGET_SELECTOR = typed<Static<typeof SHARED_TARGET_SELECTOR>>(obj({ group: GROUP, kind: KIND, ...(LABEL_SELECTOR.properties as Record<string, Schema>) }, ['kind']));
const UINT32 = int(0, 4294967295, 'a whole number from 0 to 4294967295');
const PERCENT = typed<number>({ type: 'number', minimum: 0, maximum: 100, description: 'a percentage from 0 to 100' });

const HEADER_MATCH = obj({
  type: oneOfValues(['Exact', 'RegularExpression', 'Distinct']),
  name: str({ minLength: 1, maxLength: 256 }),
  value: str({ maxLength: 1024 }),
  invert: BOOLEAN,
}, ['name']);

const SELECT_CONDITION = obj({
  headers: arr(HEADER_MATCH, { maxItems: 16 }),
  methods: arr(obj({ value: oneOfValues(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH']), invert: BOOLEAN }, ['value']), { maxItems: 16 }),
  path: obj({ type: oneOfValues(['Exact', 'PathPrefix', 'RegularExpression']), value: str({ minLength: 1, maxLength: 1024 }), invert: BOOLEAN }, ['value']),
  sourceCIDR: obj({ type: oneOfValues(['Exact', 'Distinct']), value: str({ minLength: 1, maxLength: 256 }) }, ['value']),
  // Portcullis extension: the authenticated consumer (Kong's limit_by: consumer).
  consumer: obj({ type: oneOfValues(['Exact', 'Distinct']), values: arr(str({ minLength: 1, maxLength: 1024 }), { maxItems: 64 }) }),
});

const COST_SPECIFIER = obj({
  from: oneOfValues(['Number', 'Metadata']),
  number: int(0, Number.MAX_SAFE_INTEGER),
  metadata: obj({ namespace: STRING, key: STRING }, ['namespace', 'key']),
}, ['from']);

const RATE_LIMIT_RULE = obj({
  clientSelectors: arr(SELECT_CONDITION, { maxItems: 8 }),
  limit: obj({ requests: int(0, 4294967295), unit: oneOfValues(['Second', 'Minute', 'Hour', 'Day', 'Month', 'Year']) }, ['requests', 'unit']),
  cost: obj({ request: COST_SPECIFIER, response: COST_SPECIFIER }),
  shared: BOOLEAN,
  // Portcullis extension: queue over-limit requests (at most maxQueue, each at most maxWait) instead of refusing them.
  throttle: obj({ maxQueue: int(1, 100_000), maxWait: DURATION }, ['maxQueue', 'maxWait']),
}, ['limit']);

const RATE_LIMIT = obj({
  type: oneOfValues(['Global', 'Local']),
  global: obj({ rules: arr(RATE_LIMIT_RULE, { maxItems: 64 }) }, ['rules']),
  local: obj({ rules: arr(RATE_LIMIT_RULE, { maxItems: 16 }) }),
  // Portcullis extension: which rate-limit headers answers carry (all on by default).
  headers: obj({ ietf: BOOLEAN, kong: BOOLEAN, retryAfter: BOOLEAN }),
}, ['type']);

const CIRCUIT_BREAKER = obj({
  maxConnections: UINT32,
  maxPendingRequests: UINT32,
  maxParallelRequests: UINT32,
  maxParallelRetries: UINT32,
  maxRequestsPerConnection: UINT32,
  perEndpoint: obj({ maxConnections: UINT32 }),
});

const HTTP_STATUS = int(100, 599, 'an HTTP status code from 100 to 599');

const ACTIVE_PAYLOAD = obj({ type: oneOfValues(['Text', 'Binary']), text: STRING, binary: STRING }, ['type']);

const HEALTH_CHECK = obj({
  active: obj({
    timeout: DURATION,
    interval: DURATION,
    initialJitter: DURATION,
    unhealthyThreshold: int(1, 4294967295),
    healthyThreshold: int(1, 4294967295),
    type: oneOfValues(['HTTP', 'TCP', 'GRPC']),
    http: obj({ hostname: STRING, path: str({ minLength: 1, maxLength: 1024 }), method: STRING, expectedStatuses: arr(HTTP_STATUS), expectedResponse: ACTIVE_PAYLOAD }, ['path']),
    tcp: obj({ send: ACTIVE_PAYLOAD, receive: ACTIVE_PAYLOAD }),
    grpc: obj({ service: STRING }),
  }, ['type']),
  passive: obj({
    splitExternalLocalOriginErrors: BOOLEAN,
    interval: DURATION,
    consecutiveLocalOriginFailures: UINT32,
    consecutiveGatewayErrors: UINT32,
    consecutive5XxErrors: UINT32,
    baseEjectionTime: DURATION,
    maxEjectionPercent: int(0, 100),
  }),
  panicThreshold: int(0, 100),
});

const LOAD_BALANCER = obj({
  type: oneOfValues(['ConsistentHash', 'LeastRequest', 'Random', 'RoundRobin']),
  consistentHash: obj({
    type: oneOfValues(['SourceIP', 'Header', 'Headers', 'Cookie']),
    header: obj({ name: HEADER_NAME }, ['name']),
    headers: arr(obj({ name: HEADER_NAME }, ['name'])),
    cookie: obj({ name: str({ minLength: 1 }), ttl: DURATION, attributes: typed<Record<string, string>>({ type: 'object', additionalProperties: STRING }) }, ['name']),
    tableSize: int(1, 5000011),
  }, ['type']),
  slowStart: obj({ window: DURATION }, ['window']),
}, ['type']);

const RETRY = obj({
  numRetries: int(0, 4294967295),
  numAttemptsPerPriority: int(0, 4294967295),
  retryOn: obj({
    triggers: arr(oneOfValues(['5xx', 'gateway-error', 'reset', 'reset-before-request', 'connect-failure', 'retriable-4xx', 'refused-stream', 'retriable-status-codes', 'cancelled', 'deadline-exceeded', 'internal', 'resource-exhausted', 'unavailable'])),
    httpStatusCodes: arr(HTTP_STATUS),
  }),
  perRetry: obj({ timeout: DURATION, backOff: obj({ baseInterval: DURATION, maxInterval: DURATION }) }),
});

const TIMEOUT = obj({
  tcp: obj({ connectTimeout: DURATION }),
  http: obj({ connectionIdleTimeout: DURATION, maxConnectionDuration: DURATION, requestTimeout: DURATION, maxStreamDuration: DURATION }),
});

const FAULT_INJECTION = obj({
  delay: obj({ fixedDelay: DURATION, percentage: PERCENT }, ['fixedDelay']),
  abort: obj({ httpStatus: int(200, 600), grpcStatus: int(0, 16), percentage: PERCENT }),
});

const STATUS_CODE_MATCH = obj({
  type: oneOfValues(['Value', 'Range']),
  value: int(100, 599),
  range: obj({ start: int(100, 599), end: int(100, 599) }, ['start', 'end']),
});

const RESPONSE_OVERRIDE = obj({
  match: obj({ statusCodes: arr(STATUS_CODE_MATCH, { minItems: 1, maxItems: 50 }) }, ['statusCodes']),
  response: obj({
    contentType: STRING,
    body: obj({
      type: oneOfValues(['Inline', 'ValueRef']),
      inline: str({ maxLength: 65536 }),
      valueRef: obj({ group: STRING, kind: KIND, name: OBJECT_NAME }, ['kind', 'name']),
    }),
    statusCode: int(100, 599),
  }),
}, ['match']);

const BACKEND_TRAFFIC_POLICY_SPEC = obj({
  targetRef: POLICY_TARGET_WITH_NAMESPACE,
  targetRefs: arr(TARGET_REF, { maxItems: 16 }),
  targetSelectors: arr(TARGET_SELECTOR, { maxItems: 16 }),
  rateLimit: RATE_LIMIT,
  circuitBreaker: CIRCUIT_BREAKER,
  healthCheck: HEALTH_CHECK,
  loadBalancer: LOAD_BALANCER,
  retry: RETRY,
  timeout: TIMEOUT,
  faultInjection: FAULT_INJECTION,
  responseOverride: arr(RESPONSE_OVERRIDE, { maxItems: 50 }),
  useClientProtocol: BOOLEAN,
});

/** The spec as translate reads it, once validated. */
export type BackendTrafficPolicySpec = Static<typeof BACKEND_TRAFFIC_POLICY_SPEC>;
export type RetrySpec = Static<typeof RETRY>;

export const backendTrafficPolicySchema: Schema = specResourceSchema(BACKEND_TRAFFIC_POLICY_SPEC);

export function checkBackendTrafficPolicy(p: any, out: ValidationIssue[]): void {
  const spec = p.spec ?? {};
  if (!has(spec, 'targetRef') && list(spec.targetRefs).length === 0 && list(spec.targetSelectors).length === 0) {
    out.push({ path: ['spec'], message: 'either targetRef, targetRefs or targetSelectors must be set' });
  }
  // The deprecated targetRef still has a namespace (task pages set it): a policy reaches only its own namespace.
  const ns = p.metadata?.namespace ?? 'default';
  if (has(spec.targetRef ?? {}, 'namespace') && spec.targetRef.namespace !== ns) {
    out.push({ path: ['spec', 'targetRef', 'namespace'], message: `a BackendTrafficPolicy can only target resources in its own namespace (${ns})` });
  }
  for (const [i, t] of list(spec.targetRefs).entries()) {
    if (!['Gateway', 'HTTPRoute', 'GRPCRoute'].includes(t.kind)) out.push({ path: ['spec', 'targetRefs', i, 'kind'], message: 'a BackendTrafficPolicy targets a Gateway, HTTPRoute or GRPCRoute' });
  }
  const rl = spec.rateLimit;
  if (rl) {
    const which = rl.type === 'Global' ? 'global' : 'local';
    const other = rl.type === 'Global' ? 'local' : 'global';
    if (rl.type === 'Global' && !has(rl, 'global')) out.push({ path: ['spec', 'rateLimit'], message: 'type Global needs rateLimit.global' });
    if (has(rl, other)) out.push({ path: ['spec', 'rateLimit', other], message: `rateLimit.${other} cannot be set with type ${rl.type}` });
    for (const [ri, rule] of list(rl[which]?.rules).entries()) {
      const at = ['spec', 'rateLimit', which, 'rules', ri];
      for (const [ci, cs] of list(rule.clientSelectors).entries()) {
        const cat = [...at, 'clientSelectors', ci];
        if (!has(cs, 'headers') && !has(cs, 'sourceCIDR') && !has(cs, 'methods') && !has(cs, 'path') && !has(cs, 'consumer')) {
          out.push({ path: cat, message: 'at least one of headers, methods, path, sourceCIDR or consumer must be specified' });
        }
        for (const [hi, h] of list(cs.headers).entries()) {
          const type = h.type ?? 'Exact';
          if (type === 'Distinct' && has(h, 'value')) out.push({ path: [...cat, 'headers', hi, 'value'], message: 'value must not be set when type is Distinct' });
          if (type !== 'Distinct' && !has(h, 'value')) out.push({ path: [...cat, 'headers', hi, 'value'], message: `value is required when type is ${type}` });
          if (type === 'Distinct' && h.invert === true) out.push({ path: [...cat, 'headers', hi, 'invert'], message: 'invert is not supported with type Distinct' });
          if (type === 'RegularExpression') regexIssue(h.value, [...cat, 'headers', hi, 'value'], out);
        }
        if (cs.path?.type === 'RegularExpression') regexIssue(cs.path.value, [...cat, 'path', 'value'], out);
        if (has(cs, 'sourceCIDR')) {
          const r = parseCidr(cs.sourceCIDR.value);
          if (typeof r === 'string') out.push({ path: [...cat, 'sourceCIDR', 'value'], message: r });
        }
        if (cs.consumer?.type === 'Distinct' && list(cs.consumer.values).length > 0) out.push({ path: [...cat, 'consumer', 'values'], message: 'values must not be set when type is Distinct' });
        if ((cs.consumer?.type ?? 'Distinct') === 'Exact' && list(cs.consumer?.values).length === 0 && has(cs, 'consumer')) out.push({ path: [...cat, 'consumer', 'values'], message: 'values are required when type is Exact' });
      }
      for (const side of ['request', 'response'] as const) {
        const c = rule.cost?.[side];
        if (c && c.from === 'Number' && !has(c, 'number')) out.push({ path: [...at, 'cost', side, 'number'], message: 'number is required when from is Number' });
        if (c && c.from === 'Metadata') out.push({ path: [...at, 'cost', side, 'from'], message: 'from: Metadata reads Envoy dynamic metadata, which Portcullis does not have; use from: Number' });
      }
    }
  }
  for (const [i, o] of list(spec.responseOverride).entries()) {
    for (const [j, m] of list(o.match?.statusCodes).entries()) {
      const type = m.type ?? 'Value';
      if (type === 'Value' && !has(m, 'value')) out.push({ path: ['spec', 'responseOverride', i, 'match', 'statusCodes', j], message: 'value is required when type is Value' });
      if (type === 'Range' && !has(m, 'range')) out.push({ path: ['spec', 'responseOverride', i, 'match', 'statusCodes', j], message: 'range is required when type is Range' });
      if (has(m, 'range') && m.range.start > m.range.end) out.push({ path: ['spec', 'responseOverride', i, 'match', 'statusCodes', j, 'range'], message: 'start must not be greater than end' });
    }
  }
  checkLoadBalancer(spec.loadBalancer, out);
  checkHealthCheck(spec.healthCheck, out);
  const fi = spec.faultInjection;
  if (fi && !has(fi, 'delay') && !has(fi, 'abort')) out.push({ path: ['spec', 'faultInjection'], message: 'delay or abort must be set' });
  if (fi?.abort && has(fi.abort, 'httpStatus') === has(fi.abort, 'grpcStatus')) out.push({ path: ['spec', 'faultInjection', 'abort'], message: 'exactly one of httpStatus and grpcStatus must be set' });
}

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

/** Envoy Gateway's loadBalancer CEL rules. */
function checkLoadBalancer(lb: any, out: ValidationIssue[]): void {
  if (!lb) return;
  const at = ['spec', 'loadBalancer'];
  const ch = lb.consistentHash;
  if (lb.type === 'ConsistentHash' && !ch) out.push({ path: at, message: 'If LoadBalancer type is consistentHash, consistentHash field needs to be set.' });
  if (lb.type !== 'ConsistentHash' && ch) out.push({ path: [...at, 'consistentHash'], message: 'consistentHash can only be set with type ConsistentHash' });
  if (has(lb, 'slowStart') && lb.type !== 'RoundRobin' && lb.type !== 'LeastRequest') out.push({ path: [...at, 'slowStart'], message: 'Currently SlowStart is only supported for RoundRobin and LeastRequest load balancers.' });
  if (!ch) return;
  const cat = [...at, 'consistentHash'];
  if (ch.type === 'Header' && !has(ch, 'header')) out.push({ path: cat, message: 'If consistent hash type is header, the header field must be set.' });
  if (ch.type === 'Headers' && list(ch.headers).length === 0) out.push({ path: cat, message: 'If consistent hash type is headers, the headers field must be set.' });
  if (ch.type === 'Cookie' && !has(ch, 'cookie')) out.push({ path: cat, message: 'If consistent hash type is cookie, the cookie field must be set.' });
  if (has(ch, 'tableSize') && !isPrime(ch.tableSize)) out.push({ path: [...cat, 'tableSize'], message: 'tableSize must be a prime number' });
}

/** Envoy Gateway's healthCheck CEL rules. */
function checkHealthCheck(hc: any, out: ValidationIssue[]): void {
  const a = hc?.active;
  if (!a) return;
  const at = ['spec', 'healthCheck', 'active'];
  if (a.type === 'HTTP' && !has(a, 'http')) out.push({ path: at, message: 'If Health Checker type is HTTP, http field needs to be set.' });
  if (a.type !== 'HTTP' && has(a, 'http')) out.push({ path: [...at, 'http'], message: 'http can only be set with type HTTP' });
  if (a.type !== 'TCP' && has(a, 'tcp')) out.push({ path: [...at, 'tcp'], message: 'tcp can only be set with type TCP' });
  for (const [path, p] of [[['http', 'expectedResponse'], a.http?.expectedResponse], [['tcp', 'send'], a.tcp?.send], [['tcp', 'receive'], a.tcp?.receive]] as const) {
    if (!p) continue;
    if (p.type === 'Text' && !has(p, 'text')) out.push({ path: [...at, ...path], message: 'If payload type is Text, text field needs to be set.' });
    if (p.type === 'Binary' && !has(p, 'binary')) out.push({ path: [...at, ...path], message: 'If payload type is Binary, binary field needs to be set.' });
  }
}

function regexIssue(pattern: unknown, path: (string | number)[], out: ValidationIssue[]): void {
  const message = regexError(String(pattern));
  if (message) out.push({ path, message });
}
