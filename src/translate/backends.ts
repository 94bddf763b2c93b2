// backendRefs → upstream clusters. Services resolve through EndpointSlices
// (as kube-proxy would), ExternalName Services and Envoy Gateway Backends
// name their endpoints directly.
import type { IRBackend, IREndpoint } from '../ir/types.ts';
import type { LoadedResource, Resource } from '../resources/types.ts';
import { namespaceOf } from '../resources/types.ts';
import type { ResourceIndex } from './index-resources.ts';
import { referenceAllowed } from './reference-grant.ts';
import type { BackendSpec } from '../resources/kinds/envoygateway-backend.ts';

export interface BackendRefInput {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  port?: number;
}

export type BackendResolution =
  | { ok: true; backend: IRBackend; resource: LoadedResource }
  | { ok: false; reason: 'BackendNotFound' | 'InvalidKind' | 'RefNotPermitted' | 'UnsupportedValue'; message: string };

const EG_GROUP = 'gateway.envoyproxy.io';

/** Where a backendRef is written; http2: the route's protocol is HTTP/2 end to end (GRPCRoute). */
export interface BackendRefSource {
  kind: string;
  namespace: string;
  group: string;
  http2?: boolean;
}

/** GEP-1911: a Service port's appProtocol that says HTTP/2 over cleartext. */
const H2C_APP_PROTOCOL = 'kubernetes.io/h2c';
const EG_H2C_APP_PROTOCOL = 'gateway.envoyproxy.io/h2c';

/** An HTTP/2 backend is its own cluster (its own connections), beside an HTTP/1.1 one to the same endpoints. */
function speakHttp2(b: IRBackend): IRBackend {
  return { ...b, id: `${b.id}/h2`, protocol: 'h2' };
}

export function resolveBackendRef(
  idx: ResourceIndex,
  from: BackendRefSource,
  ref: BackendRefInput,
): BackendResolution {
  const r = resolveRef(idx, from, ref);
  return r.ok && (from.http2 || r.backend.protocol === 'h2') && !r.backend.id.endsWith('/h2') ? { ...r, backend: speakHttp2(r.backend) } : r;
}

function resolveRef(idx: ResourceIndex, from: BackendRefSource, ref: BackendRefInput): BackendResolution {
  const group = ref.group ?? '';
  const kind = ref.kind ?? 'Service';
  const namespace = ref.namespace ?? from.namespace;
  if (namespace !== from.namespace && !referenceAllowed(idx, from, { group, kind, namespace, name: ref.name })) {
    return { ok: false, reason: 'RefNotPermitted', message: `${kind} ${namespace}/${ref.name} is in another namespace and no ReferenceGrant allows it` };
  }
  if (group === '' && kind === 'Service') return resolveService(idx, namespace, ref);
  if (group === EG_GROUP && kind === 'Backend') return resolveEgBackend(idx, namespace, ref);
  return { ok: false, reason: 'InvalidKind', message: `backendRef kind ${group ? group + '/' : ''}${kind} is not supported (Service, ${EG_GROUP}/Backend)` };
}

function resolveService(idx: ResourceIndex, namespace: string, ref: BackendRefInput): BackendResolution {
  const svc = idx.get('Service', namespace, ref.name);
  if (!svc) return { ok: false, reason: 'BackendNotFound', message: `Service ${namespace}/${ref.name} not found` };
  if (ref.port === undefined) return { ok: false, reason: 'UnsupportedValue', message: `backendRef to Service ${namespace}/${ref.name} needs a port` };
  const spec = (svc.resource.spec ?? {}) as { type?: string; externalName?: string; ports?: ServicePort[] };
  const id = `Service/${namespace}/${ref.name}:${ref.port}`;
  const base = { id, source: id, labels: svc.resource.metadata.labels ?? {}, namespace };
  const svcPort = (spec.ports ?? []).find((p) => p.port === ref.port);
  const h2c = svcPort?.appProtocol === H2C_APP_PROTOCOL;
  if (spec.type === 'ExternalName' && spec.externalName) {
    const backend: IRBackend = { ...base, endpoints: [{ host: spec.externalName, port: ref.port, ready: true }] };
    return { ok: true, resource: svc, backend: h2c ? speakHttp2(backend) : backend };
  }
  if (!svcPort) return { ok: false, reason: 'BackendNotFound', message: `Service ${namespace}/${ref.name} has no port ${ref.port}` };
  const backend: IRBackend = { ...base, endpoints: endpointsOf(idx, svc.resource, svcPort) };
  return { ok: true, resource: svc, backend: h2c ? speakHttp2(backend) : backend };
}

interface ServicePort {
  name?: string;
  appProtocol?: string;
  port: number;
  targetPort?: number | string;
}

interface EndpointSliceShape {
  addressType?: string;
  endpoints?: { addresses?: string[]; conditions?: { ready?: boolean | null; serving?: boolean | null; terminating?: boolean | null } }[];
  ports?: { name?: string | null; port?: number | null }[] | null;
}

/** Endpoints of a Service port from the EndpointSlices labelled with its name. */
function endpointsOf(idx: ResourceIndex, svc: Resource, svcPort: ServicePort): IREndpoint[] {
  const ns = namespaceOf(svc);
  const out: IREndpoint[] = [];
  const seen = new Set<string>();
  for (const es of idx.list('EndpointSlice')) {
    const r = es.resource;
    if (namespaceOf(r) !== ns || r.metadata.labels?.['kubernetes.io/service-name'] !== svc.metadata.name) continue;
    const slice = r as unknown as EndpointSliceShape;
    // The slice port is matched by the Service port's name ("" when unnamed).
    const wanted = svcPort.name ?? '';
    const port = (slice.ports ?? []).find((p) => (p.name ?? '') === wanted)?.port
      ?? (typeof svcPort.targetPort === 'number' ? svcPort.targetPort : undefined)
      ?? svcPort.port;
    for (const ep of slice.endpoints ?? []) {
      // Kubernetes: a nil ready condition means ready.
      const ready = ep.conditions?.ready !== false && ep.conditions?.terminating !== true;
      for (const addr of ep.addresses ?? []) {
        const key = `${addr}:${port}`;
        if (seen.has(key)) continue;
        seen.add(key);
        out.push({ host: addr, port, ready });
      }
    }
  }
  return out;
}

function resolveEgBackend(idx: ResourceIndex, namespace: string, ref: BackendRefInput): BackendResolution {
  const be = idx.get('Backend', namespace, ref.name);
  if (!be) return { ok: false, reason: 'BackendNotFound', message: `Backend ${namespace}/${ref.name} not found` };
  const spec = be.resource.spec as BackendSpec;
  const endpoints: IREndpoint[] = [];
  for (const ep of spec.endpoints ?? []) {
    if (ep.fqdn) endpoints.push({ host: ep.fqdn.hostname, port: ep.fqdn.port, ready: true });
    else if (ep.ip) endpoints.push({ host: ep.ip.address, port: ep.ip.port, ready: true });
    else if (ep.unix) return { ok: false, reason: 'UnsupportedValue', message: `Backend ${namespace}/${ref.name}: unix socket endpoints are not supported` };
  }
  const id = `Backend/${namespace}/${ref.name}`;
  const backend: IRBackend = { id, source: id, labels: be.resource.metadata.labels ?? {}, namespace, endpoints };
  if (spec.tls) backend.tls = { sni: spec.tls.sni, insecureSkipVerify: spec.tls.insecureSkipVerify };
  if (spec.fallback === true) backend.fallback = true;
  return { ok: true, resource: be, backend: spec.appProtocols?.includes(EG_H2C_APP_PROTOCOL) ? speakHttp2(backend) : backend };
}
