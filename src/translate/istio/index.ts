// Istio security policies → per-hop filters and listener mTLS.
// Two hops per request (DESIGN.md): the Gateway the request came through, and
// the destination Service/Backend the route picked. Each hop gets the
// RequestAuthentication and AuthorizationPolicy resources that select it.
import type { IRFilter, IRListener, PathNormalization } from '../../ir/types.ts';
import type { ConfigError } from '../../resources/errors.ts';
import type { LoadedResource } from '../../resources/types.ts';
import { namespaceOf } from '../../resources/types.ts';
import type { ResourceIndex } from '../index-resources.ts';
import type { StatusCollector } from '../status.ts';
import type { AttachableSection } from '../gateways.ts';
import { resolveBackendRef } from '../backends.ts';
import { sortFilters } from '../../ir/filter-order.ts';
import type { TranslatedRouteRule } from '../attachment/inventory.ts';
import type { AttachContext } from '../attachment/context.ts';
import { selectIstioPolicies, type PolicyHop } from './select.ts';
import { buildRequestAuthenticationFilter } from './request-authentication.ts';
import { buildAuthorizationFilter, checkAuthorizationPolicies } from './authorization-policy.ts';
import { findMeshConfigMap, gatewayTopologyTrustedProxies, parseMeshConfig, type MeshProviders, type ServiceResolver } from './mesh-config.ts';
import { parse as parseYaml } from 'yaml';
import { clientValidationFor, gatewayWorkloadLabels, resolvePeerAuthentication, trustBundleFrom, type MtlsMode } from './peer-authentication.ts';

const POLICY_KINDS = new Set(['RequestAuthentication', 'AuthorizationPolicy', 'PeerAuthentication']);

export class IstioTranslator {
  private idx: ResourceIndex;
  private rootNamespace: string;
  private status: StatusCollector;
  /** Errors that reject the snapshot. */
  private fatal: ConfigError[];
  /** Policies rejected on their own: reported, and their hops treated conservatively. */
  private policyErrors: ConfigError[];
  private policies: LoadedResource[];
  private mesh: MeshProviders;
  private resolve: ServiceResolver;
  private hopCache = new Map<string, IRFilter[]>();
  private seenErrors = new Set<string>();
  /** STRICT sections whose socket cannot require a certificate: enforced per request. */
  private strictPerRequest = new Map<AttachableSection, string>();

  constructor(idx: ResourceIndex, rootNamespace: string, status: StatusCollector, fatal: ConfigError[], policyErrors: ConfigError[]) {
    this.idx = idx;
    this.rootNamespace = rootNamespace;
    this.status = status;
    this.fatal = fatal;
    this.policyErrors = policyErrors;
    this.policies = idx.all.filter((r) => POLICY_KINDS.has(r.resource.kind) && r.resource.apiVersion.startsWith('security.istio.io/'));
    const parsed = parseMeshConfig(findMeshConfigMap([...idx.all], rootNamespace));
    this.mesh = parsed.mesh;
    this.report(parsed.errors);
    this.fatal.push(...parsed.fatal);
    this.resolve = (service, port) => this.resolveService(service, port);
    for (const p of this.policies) if (p.resource.kind !== 'AuthorizationPolicy') this.status.accept(key(p));
    const own = checkAuthorizationPolicies(this.policies);
    this.report(own.errors);
    for (const st of own.status) for (const c of st.conditions) this.status.condition(st.object, c);
  }

  /** The mesh config's pathNormalization, when it sets one. */
  get pathNormalization(): PathNormalization | undefined {
    return this.mesh.pathNormalization;
  }

  /**
   * X-Forwarded-For trust: the mesh's defaultConfig.gatewayTopology, overridden per
   * Gateway by its proxy.istio.io/config annotation. Gateways sharing a port that
   * disagree get the smallest count (trusting fewer hops never lets a client forge its address).
   */
  applyGatewayTopology(listeners: IRListener[], sections: AttachableSection[]): void {
    for (const l of listeners) {
      let hops: number | undefined;
      for (const s of sections.filter((x) => x.listener === l)) {
        let n = this.mesh.numTrustedProxies ?? 0;
        const ann = s.gateway.resource.metadata.annotations?.['proxy.istio.io/config'];
        if (ann !== undefined) {
          let parsed: unknown;
          try {
            parsed = parseYaml(ann);
          } catch {
            parsed = undefined;
          }
          const v = gatewayTopologyTrustedProxies(parsed);
          if (v === null || parsed === undefined) {
            this.fatal.push({ object: `Gateway/${s.gatewayRef.namespace}/${s.gatewayRef.name}`, path: 'metadata.annotations["proxy.istio.io/config"]', message: 'gatewayTopology.numTrustedProxies must be a whole number from 0 to 64', source: s.gateway.source });
          } else if (v !== undefined) n = v;
        }
        hops = hops === undefined ? n : Math.min(hops, n);
      }
      l.xffTrustedHops = hops ?? 0;
    }
  }

  /** PeerAuthentication → client certificate validation on HTTPS listeners, per-request STRICT elsewhere. */
  applyPeerAuthentication(listeners: IRListener[], sections: AttachableSection[]): void {
    const pas = this.policies.filter((p) => p.resource.kind === 'PeerAuthentication');
    if (pas.length === 0) return;
    const bundleErrors: ConfigError[] = [];
    const bundle = trustBundleFrom([...this.idx.all], this.rootNamespace, bundleErrors);
    this.fatal.push(...bundleErrors);
    for (const l of listeners) {
      const mine = sections.filter((s) => s.listener === l);
      const resolved = mine.map((s) => ({ s, r: resolvePeerAuthentication(pas, this.gatewayWorkload(s), l.port, this.rootNamespace) }));
      const modes: MtlsMode[] = resolved.map((x) => x.r.mode);
      if (l.protocol === 'HTTPS') {
        const cv = clientValidationFor(modes, bundle);
        if (cv.error) {
          this.fatal.push({ message: `port ${l.port}: ${cv.error}` });
          continue;
        }
        if (cv.clientValidation && l.tls) l.tls.clientValidation = cv.clientValidation;
        if (cv.mixed) for (const x of resolved) if (x.r.mode === 'STRICT') this.strictPerRequest.set(x.s, x.r.reason);
      } else {
        for (const x of resolved) {
          if (x.r.mode !== 'STRICT') continue;
          // Plaintext cannot carry a client certificate: Istio resets such connections.
          this.strictPerRequest.set(x.s, x.r.reason);
          if (x.r.origin) this.status.condition(x.r.origin, { type: 'Warning', status: 'True', reason: 'StrictOnPlaintext', message: `STRICT on plaintext port ${l.port}: every connection to Gateway ${x.s.gatewayRef.namespace}/${x.s.gatewayRef.name} is reset` });
        }
      }
    }
  }

  /**
   * The attachment phase for the Istio family, after routes are translated:
   * each route rule gets its Gateway hop's filters, each picked backend its
   * destination hop's filters.
   */
  attach({ targets, sections, backendResources }: AttachContext): void {
    const points = targets.points;
    const sectionOf = new Map(sections.map((s) => [`${s.gatewayRef.namespace}/${s.gatewayRef.name}/${s.spec.name}`, s]));
    for (const point of points) {
      const section = sectionOf.get(`${point.gateway.namespace}/${point.gateway.name}/${point.listener}`);
      if (!section) continue;
      const gatewayHop = this.gatewayHopFilters(point, section);
      if (gatewayHop.length > 0) point.ir.filters = sortFilters([...gatewayHop, ...point.ir.filters]);
      if (point.ir.action.type !== 'proxy') continue;
      for (const wb of point.ir.action.backends) {
        const backend = wb.backend === null ? undefined : backendResources.get(wb.backend);
        if (backend) wb.filters = this.backendHopFilters(backend);
      }
    }
  }

  private gatewayHopFilters(point: TranslatedRouteRule, section: AttachableSection): IRFilter[] {
    const hop: PolicyHop = this.gatewayWorkload(section, 'Gateway');
    const routeRef = { namespace: point.route.namespace, name: point.route.name };
    const cacheKey = `gw|${hop.namespace}/${hop.name}|${routeRef.namespace}/${routeRef.name}|${section.spec.name}`;
    let filters = this.hopCache.get(cacheKey);
    if (!filters) {
      filters = this.hopFilters(hop, routeRef, `Gateway/${hop.namespace}/${hop.name}`);
      const strict = this.strictPerRequest.get(section);
      if (strict) filters = [{ type: 'mtlsPeer', origin: `Gateway/${hop.namespace}/${hop.name}`, config: { reason: strict } }, ...filters];
      this.hopCache.set(cacheKey, filters);
    }
    return filters;
  }

  private backendHopFilters(backend: LoadedResource): IRFilter[] {
    const r = backend.resource;
    const kind = r.kind === 'Service' ? 'Service' : 'Backend';
    // Istio selectors match pod labels: a Service's pods are those its selector names.
    const podLabels = kind === 'Service' ? ((r.spec as { selector?: Record<string, string> } | undefined)?.selector ?? {}) : {};
    const hop: PolicyHop = { kind, namespace: namespaceOf(r), name: r.metadata.name, labels: { ...r.metadata.labels, ...podLabels } };
    const cacheKey = `be|${kind}/${hop.namespace}/${hop.name}`;
    let filters = this.hopCache.get(cacheKey);
    if (!filters) this.hopCache.set(cacheKey, (filters = this.hopFilters(hop, undefined, `${kind}/${hop.namespace}/${hop.name}`)));
    return filters;
  }

  private hopFilters(hop: PolicyHop, route: { namespace: string; name: string } | undefined, label: string): IRFilter[] {
    const selected = selectIstioPolicies(this.policies, hop, { rootNamespace: this.rootNamespace, route });
    const filters: IRFilter[] = [];
    const ras = selected.filter((p) => p.resource.kind === 'RequestAuthentication');
    if (ras.length > 0) {
      const ra = buildRequestAuthenticationFilter(ras);
      if (ra) filters.push(ra);
    }
    const aps = selected.filter((p) => p.resource.kind === 'AuthorizationPolicy');
    if (aps.length > 0) {
      const ap = buildAuthorizationFilter(aps, this.mesh, this.resolve, { hop: label });
      this.report(ap.errors);
      for (const s of ap.status) {
        for (const c of s.conditions) this.status.condition(s.object, c);
        if (s.accepted) this.status.ensure(s.object);
      }
      if (ap.filter) filters.push(ap.filter);
    }
    return filters;
  }

  private gatewayWorkload(s: AttachableSection, kind: 'Gateway' = 'Gateway'): PolicyHop {
    const gw = s.gateway.resource;
    const infra = (gw.spec as { infrastructure?: { labels?: Record<string, string> } } | undefined)?.infrastructure?.labels;
    return { kind, namespace: s.gatewayRef.namespace, name: s.gatewayRef.name, labels: gatewayWorkloadLabels({ name: s.gatewayRef.name, labels: gw.metadata.labels, infrastructureLabels: infra }) };
  }

  /** An ext_authz provider's service: "name.ns.svc.cluster.local" or "ns/name" through the config's Services, else host:port. */
  private resolveService(service: string, port: number): { host: string; port: number }[] | undefined {
    let ns: string | undefined;
    let name: string | undefined;
    const slash = service.indexOf('/');
    if (slash > 0) {
      ns = service.slice(0, slash);
      name = service.slice(slash + 1).split('.')[0];
    } else {
      const m = /^([^.]+)\.([^.]+)\.svc(?:\.cluster\.local)?$/.exec(service);
      if (m) [, name, ns] = m;
    }
    if (ns && name) {
      const res = resolveBackendRef(this.idx, { kind: 'AuthorizationPolicy', namespace: ns, group: 'security.istio.io' }, { name, namespace: ns, port });
      if (!res.ok) return undefined;
      return res.backend.endpoints.filter((e) => e.ready).map((e) => ({ host: e.host, port: e.port }));
    }
    return [{ host: service, port }];
  }

  private report(errs: ConfigError[]): void {
    for (const e of errs) {
      const k = `${e.object}|${e.path}|${e.message}`;
      if (this.seenErrors.has(k)) continue;
      this.seenErrors.add(k);
      this.policyErrors.push(e);
    }
  }
}

function key(p: LoadedResource): string {
  return `${p.resource.kind}/${namespaceOf(p.resource)}/${p.resource.metadata.name}`;
}
