// Istio PeerAuthentication: which mTLS mode a workload port gets, and the trust
// bundle client certificates are verified against. Pure functions of resources.
//
// Istio's rules (pilot/pkg/security/authn ComposePeerAuthentication), followed
// exactly; ValidatePeerAuthentication's rules live in src/resources (the
// policies that reach translate passed them):
// - Three levels: mesh (root namespace, no selector), namespace (the workload's
//   namespace, no selector), workload (the workload's namespace, selector.matchLabels
//   all present in the workload's labels). A selector with empty matchLabels counts
//   as no selector. Selector policies in the root namespace are ignored.
// - Several policies at one level: the oldest wins (the one precedence order of
//   translate/attachment: creationTimestamp, load order for files, then
//   namespace/name); only that one is read.
// - UNSET (or no mtls) inherits from the level above; the default is PERMISSIVE.
// - portLevelMtls is read only from the winning workload-level policy; UNSET there
//   inherits the workload's resolved mode. Istio rejects portLevelMtls on policies
//   without a selector, so it never appears at mesh/namespace level.
import type { LoadedResource, Resource } from '../../resources/types.ts';
import type { ConfigError } from '../../resources/errors.ts';
import { formatPath } from '../../resources/errors.ts';
import { parseCertificateBundle } from '../../ca/pem.ts';
import { older } from '../attachment/precedence.ts';
import type { IRClientValidation } from '../../ir/types.ts';

export type MtlsMode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';

/** The workload a policy may select: for the gateway hop, the Gateway. */
export interface WorkloadRef {
  namespace: string;
  name: string;
  labels: Record<string, string>;
}

export interface ResolvedPeerAuthentication {
  mode: MtlsMode;
  /** "PeerAuthentication/ns/name" whose setting decided; absent for the built-in default. */
  origin?: string;
  /** Which setting decided, for explain: "portLevelMtls[8443]", "mtls.mode" or "default". */
  reason: string;
}

/**
 * Labels Istio's gateway controller puts on the pods it deploys for a Gateway API
 * Gateway, so that `selector.matchLabels: {gateway.networking.k8s.io/gateway-name: x}`
 * (the form Istio's docs use) selects it. Istio also propagates the Gateway's own
 * labels and spec.infrastructure.labels. Use the same labels for every Istio policy kind.
 * `istio.io/gateway-name` is the label Istio's gateway pods carried before (1.16–1.2x);
 * Istio's "Ingress Gateway Access Control" task still selects gateways by it.
 */
export function gatewayWorkloadLabels(gateway: { name: string; labels?: Record<string, string>; infrastructureLabels?: Record<string, string> }): Record<string, string> {
  return {
    ...gateway.labels,
    ...gateway.infrastructureLabels,
    'gateway.networking.k8s.io/gateway-name': gateway.name,
    'istio.io/gateway-name': gateway.name,
  };
}

export function isPeerAuthentication(r: Resource): boolean {
  return r.kind === 'PeerAuthentication' && r.apiVersion.startsWith('security.istio.io/');
}

/**
 * The mTLS mode for one port of one workload. `policies` may hold any resources;
 * only PeerAuthentications are read. Call with validated policies (see
 * src/resources); an unknown mode is read as STRICT (fail closed).
 */
export function resolvePeerAuthentication(
  policies: readonly LoadedResource[],
  workload: WorkloadRef,
  port: number,
  rootNamespace: string,
): ResolvedPeerAuthentication {
  let mesh: LoadedResource | undefined;
  let namespace: LoadedResource | undefined;
  let wl: LoadedResource | undefined;
  for (const lr of policies) {
    const r = lr.resource;
    if (!isPeerAuthentication(r)) continue;
    const ns = r.metadata.namespace ?? 'default';
    if (ns !== rootNamespace && ns !== workload.namespace) continue;
    const labels = matchLabelsOf(r);
    if (!labels) {
      if (ns === rootNamespace) mesh = older(mesh, lr);
      else namespace = older(namespace, lr);
    } else if (ns !== rootNamespace && ns === workload.namespace && selects(labels, workload.labels)) {
      wl = older(wl, lr);
    }
  }

  let out: ResolvedPeerAuthentication = { mode: 'PERMISSIVE', reason: 'default' };
  for (const lr of [mesh, namespace, wl]) {
    const mode = lr && modeOf(lr.resource.spec?.mtls);
    if (mode) out = { mode, origin: originOf(lr.resource), reason: 'mtls.mode' };
  }
  if (wl) {
    const portLevel = wl.resource.spec?.portLevelMtls;
    if (isObject(portLevel)) {
      // Keys are port numbers (uint32 in Istio's proto), so "08443" is 8443.
      const key = Object.keys(portLevel).find((k) => /^[0-9]{1,5}$/.test(k) && Number(k) === port);
      // UNSET at port level inherits the workload-level result computed above.
      const mode = key === undefined ? undefined : modeOf(portLevel[key]);
      if (mode) out = { mode, origin: originOf(wl.resource), reason: `portLevelMtls[${port}]` };
    }
  }
  return out;
}

export interface ListenerClientValidation {
  /** What the HTTPS listener asks of clients; undefined = no client certificate requested. */
  clientValidation?: IRClientValidation;
  /**
   * The Gateways sharing this port disagree (some STRICT, some not): the socket can only
   * be OPTIONAL, so the STRICT ones must refuse unverified peers per request (reset the
   * connection, as Istio's handshake would have).
   */
  mixed: boolean;
  /** Set when the modes cannot be honoured (STRICT without a trust bundle): fail the snapshot. */
  error?: string;
}

/**
 * How an HTTPS listener port enforces the resolved modes of the Gateways on it:
 * all STRICT → REQUIRE (handshake refused without a client certificate chained to the
 * bundle); any STRICT/PERMISSIVE → OPTIONAL (requested, verified when presented); all
 * DISABLE → no client certificate requested. PERMISSIVE without a bundle requests
 * nothing (nothing could be verified); STRICT without one is an error, never open.
 */
export function clientValidationFor(modes: readonly MtlsMode[], bundle: string | undefined): ListenerClientValidation {
  const strict = modes.filter((m) => m === 'STRICT').length;
  const mixed = strict > 0 && strict < modes.length;
  const wantsCert = modes.some((m) => m !== 'DISABLE');
  if (!wantsCert) return { mixed };
  if (!bundle) {
    if (strict > 0) return { mixed, error: 'STRICT mTLS needs a trust bundle: a cacerts Secret or istio-ca-root-cert ConfigMap (root-cert.pem) in the root namespace' };
    return { mixed };
  }
  return { clientValidation: { caPem: bundle, mode: strict === modes.length ? 'REQUIRE' : 'OPTIONAL' }, mixed };
}

/**
 * The PEM trust bundle for client certificates, as Istio's workloads get it: the
 * `cacerts` Secret in the root namespace (Istio's plug-in CA secret; key
 * root-cert.pem, or ca.crt in its cert-manager layout), else the
 * `istio-ca-root-cert` ConfigMap in the root namespace (key root-cert.pem).
 * Problems go to `errors` (then the result is undefined): a bundle that does not
 * parse, holds something other than certificates, or a certificate that is not a CA.
 */
export function trustBundleFrom(resources: readonly LoadedResource[], rootNamespace: string, errors: ConfigError[] = []): string | undefined {
  let secret: LoadedResource | undefined;
  let configMap: LoadedResource | undefined;
  for (const lr of resources) {
    const r = lr.resource;
    if ((r.metadata.namespace ?? 'default') !== rootNamespace || r.apiVersion !== 'v1') continue;
    if (r.kind === 'Secret' && r.metadata.name === 'cacerts') secret = lr;
    else if (r.kind === 'ConfigMap' && r.metadata.name === 'istio-ca-root-cert') configMap = lr;
  }
  if (secret) {
    const key = ['root-cert.pem', 'ca.crt'].find((k) => secretHas(secret.resource, k));
    if (!key) {
      errors.push(configError(secret, ['data'], 'cacerts has no root-cert.pem (nor ca.crt): the root of trust is missing'));
      return undefined;
    }
    return bundleFrom(secret, key, secretValue(secret, key, errors), errors);
  }
  if (configMap) {
    const v = configMap.resource.data?.['root-cert.pem'];
    if (typeof v !== 'string') {
      errors.push(configError(configMap, ['data'], 'istio-ca-root-cert has no root-cert.pem'));
      return undefined;
    }
    return bundleFrom(configMap, 'root-cert.pem', { text: v, path: ['data', 'root-cert.pem'] }, errors);
  }
  return undefined;
}

function bundleFrom(lr: LoadedResource, key: string, v: { text: string; path: (string | number)[] } | undefined, errors: ConfigError[]): string | undefined {
  if (!v) return undefined;
  let bundle;
  try {
    bundle = parseCertificateBundle(v.text);
  } catch (e) {
    errors.push(configError(lr, v.path, `${key} is not a usable PEM certificate bundle: ${(e as Error).message}`));
    return undefined;
  }
  for (let i = 0; i < bundle.parsed.length; i++) {
    // A leaf certificate here is a copy-paste mistake: OpenSSL would not build chains to it.
    if (!bundle.parsed[i].ca) {
      errors.push(configError(lr, v.path, `${key}: certificate ${i + 1} (${bundle.parsed[i].subject || 'no subject'}) is not a CA certificate`));
      return undefined;
    }
  }
  return bundle.certificates.join('');
}

function secretHas(r: Resource, key: string): boolean {
  return typeof r.stringData?.[key] === 'string' || typeof r.data?.[key] === 'string';
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** A Secret value: stringData wins over data (as the API server merges them); data is strict base64. */
function secretValue(lr: LoadedResource, key: string, errors: ConfigError[]): { text: string; path: (string | number)[] } | undefined {
  const r = lr.resource;
  const s = r.stringData?.[key];
  if (typeof s === 'string') return { text: s, path: ['stringData', key] };
  const d = r.data![key];
  if (!BASE64.test(d)) {
    errors.push(configError(lr, ['data', key], 'is not valid base64 (Secret data must be base64; use stringData for plain PEM)'));
    return undefined;
  }
  return { text: Buffer.from(d, 'base64').toString('utf8'), path: ['data', key] };
}

/** The non-empty matchLabels of a policy, or undefined when it has no (effective) selector. */
function matchLabelsOf(r: Resource): Record<string, string> | undefined {
  const ml = r.spec?.selector?.matchLabels;
  return isObject(ml) && Object.keys(ml).length > 0 ? (ml as Record<string, string>) : undefined;
}

function selects(matchLabels: Record<string, string>, labels: Record<string, string>): boolean {
  for (const k in matchLabels) if (!Object.hasOwn(labels, k) || labels[k] !== matchLabels[k]) return false;
  return true;
}

/** undefined for UNSET/absent (inherit); unknown values read as STRICT so that a bad policy never loosens. */
function modeOf(mtls: unknown): MtlsMode | undefined {
  if (!isObject(mtls)) return undefined;
  const m = mtls.mode;
  if (m === undefined || m === null || m === 'UNSET') return undefined;
  if (m === 'STRICT' || m === 'PERMISSIVE' || m === 'DISABLE') return m;
  return 'STRICT';
}

function originOf(r: Resource): string {
  return `${r.kind}/${r.metadata.namespace ?? 'default'}/${r.metadata.name}`;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function configError(lr: LoadedResource, path: (string | number)[], message: string): ConfigError {
  return {
    object: originOf(lr.resource),
    path: formatPath(path),
    message,
    source: lr.source,
    line: lr.source?.lineOf?.(path),
  };
}
