// BackendTrafficPolicy → IR, on the attachment phase (translate/attachment):
// the winning policy per route rule (rule > route > listener > gateway, then
// oldest, then namespace/name; no merging) adds its filters to that rule's
// IR route and sets its traffic settings.
import type { IRFilter, IRRoute } from '../ir/types.ts';
import type { IRRateLimit, IRRateLimitRule, IRRateLimitSelector } from '../ir/rate-limit.ts';
import type { IRFaultInjection } from '../ir/fault-injection.ts';
import type { IRActiveHealth, IRHealthCheck, IRLoadBalancer, IRPassiveHealth, IRResponseOverride, IRRetry } from '../ir/traffic.ts';
import type { ResourceIndex } from './index-resources.ts';
import type { StatusCollector } from './status.ts';
import type { LoadedResource } from '../resources/types.ts';
import { resourceKey } from '../resources/types.ts';
import { sortFilters } from '../ir/filter-order.ts';
import { parseDuration } from './durations.ts';
import { attachingPolicy, attachWinners, type AttachContext, type AttachingPolicy } from './attachment/index.ts';
import type { BackendTrafficPolicySpec, RetrySpec } from '../resources/kinds/envoygateway-backendtrafficpolicy.ts';

type RateLimitRuleSpec = NonNullable<NonNullable<NonNullable<BackendTrafficPolicySpec['rateLimit']>['local']>['rules']>[number];
type LoadBalancerSpec = NonNullable<BackendTrafficPolicySpec['loadBalancer']>;
type ResponseOverrideSpec = NonNullable<BackendTrafficPolicySpec['responseOverride']>[number];
type HealthCheckSpec = NonNullable<BackendTrafficPolicySpec['healthCheck']>;
type PayloadSpec = NonNullable<NonNullable<NonNullable<HealthCheckSpec['active']>['tcp']>['send']>;

/** Fields this version validates but does not enforce yet: said in the policy's status. */
const NOT_SERVED: (keyof BackendTrafficPolicySpec)[] = [];

export function attachBackendTrafficPolicies({ idx, targets: inv, status }: AttachContext): void {
  const policies: AttachingPolicy<BackendTrafficPolicySpec>[] = [];
  for (const r of idx.list('BackendTrafficPolicy')) {
    const spec = (r.resource.spec ?? {}) as BackendTrafficPolicySpec;
    policies.push(attachingPolicy(r, spec, inv));
    const unserved: string[] = NOT_SERVED.filter((f) => spec[f] !== undefined);
    if (unserved.length > 0) {
      status.condition(resourceKey(r.resource), {
        type: 'UnsupportedFields', status: 'True', reason: 'UnsupportedValue',
        message: `${unserved.join(', ')} ${unserved.length === 1 ? 'is' : 'are'} validated but not enforced by this version`,
      });
    }
  }
  if (policies.length === 0) return;
  const winners = attachWinners(policies, inv.points, { kind: 'BackendTrafficPolicy', status, inventory: inv });
  const overrides = new Map<LoadedResource, IRResponseOverride[]>();
  for (const [point, att] of winners) {
    const r = att.policy.resource;
    let ro = overrides.get(r);
    if (ro === undefined && att.policy.spec.responseOverride) overrides.set(r, (ro = responseOverrides(r, att.policy.spec.responseOverride, idx, status)));
    applyPolicy(r, att.policy.spec, point.ir, ro);
  }
}

/**
 * responseOverride with the bodies read: inline, or the `response.body` key of
 * a ConfigMap in the policy's namespace (Envoy Gateway's valueRef). A rule
 * whose ConfigMap (or key) is missing is left out and the policy's status says
 * so (ResolvedRefs False); the other rules are served.
 */
function responseOverrides(r: LoadedResource, specs: ResponseOverrideSpec[], idx: ResourceIndex, status: StatusCollector): IRResponseOverride[] {
  const key = resourceKey(r.resource);
  const ns = r.resource.metadata.namespace ?? 'default';
  const out: IRResponseOverride[] = [];
  const problems: string[] = [];
  for (const [i, o] of specs.entries()) {
    const rule: IRResponseOverride = {
      statuses: o.match.statusCodes.map((m) => ((m.type ?? 'Value') === 'Range' ? { start: m.range!.start, end: m.range!.end } : { start: m.value!, end: m.value! })),
      contentType: o.response?.contentType,
      statusCode: o.response?.statusCode,
    };
    const body = o.response?.body;
    if (body && (body.type ?? 'Inline') === 'Inline') rule.body = body.inline ?? '';
    else if (body?.valueRef) {
      const ref = body.valueRef;
      const cm = ref.kind === 'ConfigMap' ? idx.get('ConfigMap', ns, ref.name) : undefined;
      const value = (cm?.resource as { data?: Record<string, string> } | undefined)?.data?.['response.body'];
      if (ref.kind !== 'ConfigMap') { problems.push(`responseOverride[${i}]: valueRef kind ${ref.kind} is not supported (ConfigMap only)`); continue; }
      if (!cm) { problems.push(`responseOverride[${i}]: ConfigMap ${ns}/${ref.name} not found`); continue; }
      if (value === undefined) { problems.push(`responseOverride[${i}]: ConfigMap ${ns}/${ref.name} has no key response.body`); continue; }
      rule.body = value;
    }
    out.push(rule);
  }
  if (problems.length > 0) {
    status.condition(key, { type: 'ResolvedRefs', status: 'False', reason: 'Invalid', message: `${problems.join('; ')}; ${problems.length === 1 ? 'that rule is' : 'those rules are'} not applied` });
  }
  return out;
}

function applyPolicy(resource: LoadedResource, spec: BackendTrafficPolicySpec, route: IRRoute, overrides: IRResponseOverride[] | undefined): void {
  const origin = resourceKey(resource.resource);
  const added: IRFilter[] = [];
  const rl = spec.rateLimit;
  if (rl) {
    const rules = (rl.type === 'Global' ? rl.global?.rules : rl.local?.rules) ?? [];
    const config: IRRateLimit = {
      policy: origin,
      route: route.id,
      rules: rules.map(rateLimitRule),
      headers: { ietf: rl.headers?.ietf ?? true, kong: rl.headers?.kong ?? true, retryAfter: rl.headers?.retryAfter ?? true },
    };
    if (config.rules.length > 0) added.push({ type: rl.type === 'Global' ? 'globalRateLimit' : 'localRateLimit', origin, config });
  }
  const fi = spec.faultInjection;
  if (fi) {
    const config: IRFaultInjection = {};
    if (fi.delay) config.delay = { ms: parseDuration(fi.delay.fixedDelay) ?? 0, percent: fi.delay.percentage ?? 100 };
    if (fi.abort) config.abort = { httpStatus: fi.abort.httpStatus, grpcStatus: fi.abort.grpcStatus, percent: fi.abort.percentage ?? 100 };
    added.push({ type: 'faultInjection', origin, config });
  }
  const cb = spec.circuitBreaker;
  if (cb) {
    // Envoy's defaults for the thresholds left out.
    (route.traffic ??= {}).circuitBreaker = {
      policy: origin,
      maxConnections: cb.maxConnections ?? 1024,
      maxPendingRequests: cb.maxPendingRequests ?? 1024,
      maxParallelRequests: cb.maxParallelRequests ?? 1024,
      maxParallelRetries: cb.maxParallelRetries ?? 1024,
    };
  }
  if (spec.loadBalancer) {
    const t = (route.traffic ??= {});
    t.policy = origin;
    t.loadBalancer = loadBalancer(spec.loadBalancer);
  }
  if (spec.healthCheck) {
    const t = (route.traffic ??= {});
    t.policy = origin;
    t.healthCheck = healthCheck(spec.healthCheck);
  }
  const perConnection = spec.circuitBreaker?.maxRequestsPerConnection ?? 0;
  const connectMs = parseDuration(spec.timeout?.tcp?.connectTimeout ?? '') ?? 0;
  const idleMs = parseDuration(spec.timeout?.http?.connectionIdleTimeout ?? '') ?? 0;
  if (perConnection > 0 || connectMs > 0 || idleMs > 0) (route.traffic ??= {}).pool = { maxRequestsPerConnection: perConnection, connectTimeoutMs: connectMs, idleTimeoutMs: idleMs };
  if (overrides && overrides.length > 0) (route.traffic ??= {}).responseOverride = overrides;
  if (spec.useClientProtocol === true) (route.traffic ??= {}).useClientProtocol = true;
  // The route rule's own `retry` (Gateway API), when it has one, stays: it is the more specific setting.
  if (spec.retry && !route.traffic?.retry) (route.traffic ??= {}).retry = retryPolicy(spec.retry);
  if (added.length > 0) route.filters = sortFilters([...route.filters, ...added]);
  const requestTimeout = spec.timeout?.http?.requestTimeout;
  if (requestTimeout !== undefined) {
    // The route's own timeouts.request, when set, stays (the more specific setting).
    const ms = parseDuration(requestTimeout) ?? 0;
    if (route.timeouts.requestMs === 0 && ms > 0) {
      route.timeouts.requestMs = ms;
      if (route.timeouts.backendRequestMs === 0 || route.timeouts.backendRequestMs > ms) route.timeouts.backendRequestMs = ms;
    }
  }
}

function rateLimitRule(r: RateLimitRuleSpec, index: number): IRRateLimitRule {
  const selectors: IRRateLimitSelector[] = [];
  for (const cs of r.clientSelectors ?? []) {
    for (const h of cs.headers ?? []) selectors.push({ kind: 'header', name: h.name.toLowerCase(), type: h.type ?? 'Exact', value: h.value, invert: h.invert ?? false });
    if (cs.methods && cs.methods.length > 0) {
      // The entries are ORed: a plain one matches its method, an inverted one every other method.
      selectors.push({ kind: 'methods', values: cs.methods.filter((m) => !m.invert).map((m) => m.value), except: cs.methods.filter((m) => m.invert).map((m) => m.value) });
    }
    if (cs.path) selectors.push({ kind: 'path', type: cs.path.type ?? 'PathPrefix', value: cs.path.value, invert: cs.path.invert ?? false });
    if (cs.sourceCIDR) selectors.push({ kind: 'sourceCIDR', cidr: cs.sourceCIDR.value, distinct: cs.sourceCIDR.type === 'Distinct' });
    if (cs.consumer) selectors.push({ kind: 'consumer', distinct: (cs.consumer.type ?? 'Distinct') === 'Distinct', values: cs.consumer.values ?? [] });
  }
  const rule: IRRateLimitRule = {
    index,
    selectors,
    requests: r.limit.requests,
    unit: r.limit.unit,
    requestCost: r.cost?.request?.number ?? 1,
    responseCost: r.cost?.response?.number ?? 0,
    shared: r.shared ?? false,
  };
  if (r.throttle) rule.throttle = { maxQueue: r.throttle.maxQueue, maxWaitMs: parseDuration(r.throttle.maxWait) ?? 0 };
  return rule;
}

const GATEWAY_ERRORS = [502, 503, 504];

/** Envoy Gateway's retry: its defaults when retryOn is left out (connect-failure, refused-stream, unavailable, cancelled, retriable-status-codes 503). */
export function retryPolicy(r: RetrySpec): IRRetry {
  const triggers = r.retryOn?.triggers ?? (r.retryOn ? [] : ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes']);
  const codes = r.retryOn?.httpStatusCodes ?? (r.retryOn ? [] : [503]);
  const statuses = new Set<number>();
  for (const t of triggers) {
    if (t === '5xx') for (let s = 500; s < 600; s++) statuses.add(s);
    else if (t === 'gateway-error') for (const s of GATEWAY_ERRORS) statuses.add(s);
    else if (t === 'retriable-4xx') statuses.add(409);
    else if (t === 'retriable-status-codes') for (const s of codes) statuses.add(s);
  }
  const base = parseDuration(r.perRetry?.backOff?.baseInterval ?? '') ?? 25;
  return {
    numRetries: r.numRetries ?? 2,
    statuses: [...statuses].sort((a, b) => a - b),
    connectFailure: triggers.includes('connect-failure') || triggers.includes('5xx') || triggers.includes('gateway-error'),
    reset: triggers.includes('reset') || triggers.includes('5xx') || triggers.includes('gateway-error'),
    perTryTimeoutMs: parseDuration(r.perRetry?.timeout ?? '') ?? 0,
    backoffBaseMs: base,
    backoffMaxMs: parseDuration(r.perRetry?.backOff?.maxInterval ?? '') ?? base * 10,
  };
}

/** Envoy Gateway's loadBalancer; Maglev's table 65537 unless tableSize says otherwise. */
export function loadBalancer(lb: LoadBalancerSpec): IRLoadBalancer {
  const out: IRLoadBalancer = { type: lb.type, slowStartMs: parseDuration(lb.slowStart?.window ?? '') ?? 0 };
  const ch = lb.consistentHash;
  if (lb.type === 'ConsistentHash' && ch) {
    const headers = ch.type === 'Header' ? [ch.header!.name.toLowerCase()] : ch.type === 'Headers' ? (ch.headers ?? []).map((h) => h.name.toLowerCase()) : [];
    out.consistentHash = { type: ch.type, headers, tableSize: ch.tableSize ?? 65537 };
    if (ch.cookie) out.consistentHash.cookie = { name: ch.cookie.name, ttlMs: ch.cookie.ttl !== undefined ? parseDuration(ch.cookie.ttl) : undefined, attributes: ch.cookie.attributes ?? {} };
  }
  return out;
}

function payload(p: PayloadSpec | undefined): Buffer | undefined {
  if (!p) return undefined;
  return p.type === 'Binary' ? Buffer.from(p.binary ?? '', 'base64') : Buffer.from(p.text ?? '');
}

/** Envoy Gateway's healthCheck with its defaults (api/v1alpha1/healthcheck_types.go). */
export function healthCheck(hc: HealthCheckSpec): IRHealthCheck {
  const out: IRHealthCheck = { panicThreshold: hc.panicThreshold ?? 50 };
  const p = hc.passive;
  if (p) {
    const passive: IRPassiveHealth = {
      splitExternalLocalOriginErrors: p.splitExternalLocalOriginErrors ?? false,
      intervalMs: parseDuration(p.interval ?? '3s') ?? 3000,
      consecutiveLocalOriginFailures: p.consecutiveLocalOriginFailures ?? 5,
      consecutiveGatewayErrors: p.consecutiveGatewayErrors ?? 0,
      consecutive5XxErrors: p.consecutive5XxErrors ?? 5,
      baseEjectionTimeMs: parseDuration(p.baseEjectionTime ?? '30s') ?? 30_000,
      maxEjectionPercent: p.maxEjectionPercent ?? 10,
    };
    out.passive = passive;
  }
  const a = hc.active;
  if (a) {
    const active: IRActiveHealth = {
      type: a.type,
      timeoutMs: parseDuration(a.timeout ?? '1s') ?? 1000,
      intervalMs: Math.max(1, parseDuration(a.interval ?? '3s') ?? 3000),
      initialJitterMs: parseDuration(a.initialJitter ?? '') ?? 0,
      unhealthyThreshold: a.unhealthyThreshold ?? 3,
      healthyThreshold: a.healthyThreshold ?? 1,
    };
    if (a.type === 'HTTP') {
      const h = a.http!;
      active.http = { hostname: h.hostname, path: h.path, method: (h.method ?? 'GET').toUpperCase(), expectedStatuses: h.expectedStatuses?.length ? h.expectedStatuses : [200], expectedResponse: payload(h.expectedResponse) };
    } else if (a.type === 'GRPC') {
      active.grpc = { service: a.grpc?.service ?? '' };
    } else {
      active.tcp = { send: payload(a.tcp?.send), receive: payload(a.tcp?.receive) };
    }
    out.active = active;
  }
  return out;
}
