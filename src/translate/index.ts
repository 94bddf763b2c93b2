// translate: a pure function from resources to an IR snapshot plus status.
// No I/O here: everything it needs arrives in the input.
import { createHash } from 'node:crypto';
import type { IRBackend, IRConnection, IRLimits, PathNormalization, Snapshot } from '../ir/types.ts';
import type { LoadedResource } from '../resources/types.ts';
import type { ConfigError } from '../resources/errors.ts';
import { ResourceIndex } from './index-resources.ts';
import { StatusCollector } from './status.ts';
import { translateGateways } from './gateways.ts';
import { translateRoutes } from './httproutes.ts';
import { buildInventory } from './attachment/inventory.ts';
import type { AttachContext, PolicyFamily } from './attachment/context.ts';
import { IstioTranslator } from './istio/index.ts';
import { attachBackendTrafficPolicies } from './backend-traffic-policy.ts';
import { attachSecurityPolicies } from './security-policy/index.ts';
import { attachClientTrafficPolicies } from './client-traffic-policy.ts';

export interface TranslateOptions {
  /** Serve only Gateways of this class (all when absent). */
  gatewayClass?: string;
  /** Address the listeners bind to. */
  bindAddress: string;
  limits: IRLimits;
  /** --path-normalization; when absent, the Istio mesh config's pathNormalization, else BASE. */
  pathNormalization?: PathNormalization;
  /** Istio's root namespace (mesh-wide policies). */
  rootNamespace: string;
  /** Every listener's connection settings until a ClientTrafficPolicy says otherwise (DEFAULT_CONNECTION when absent). */
  connection?: IRConnection;
}

/**
 * Connection defaults: 30 s for a request head (TLS handshake included: a
 * slow mobile client is well within it, a stalled socket is not kept), 15 s
 * idle between requests (HTTP/1.1 keep-alive and HTTP/2 alike), and Envoy's
 * default of removing any X-Forwarded-Client-Cert the client sent.
 */
export const DEFAULT_CONNECTION: IRConnection = {
  requestHeadersTimeoutMs: 30_000,
  idleTimeoutMs: 15_000,
  forwardClientCert: { mode: 'SANITIZE', details: [] },
};

export const DEFAULT_LIMITS: IRLimits = {
  maxHeaderBytes: 60 * 1024, // Envoy's default (max_request_headers_kb: 60)
  maxUrlBytes: 16 * 1024,
  maxBodyBytes: 32 * 1024 * 1024,
};

export const DEFAULT_TRANSLATE_OPTIONS: TranslateOptions = {
  bindAddress: '0.0.0.0',
  limits: DEFAULT_LIMITS,
  rootNamespace: 'istio-system',
};

export interface TranslateResult {
  snapshot: Snapshot;
  /** Errors that make the snapshot unusable (it must not replace the running one). */
  errors: ConfigError[];
  /**
   * Policies rejected on their own (Istio's way): reported by `validate` and the
   * admin API, while their hops are treated conservatively (never fail open).
   */
  policyErrors: ConfigError[];
}

export function translate(resources: readonly LoadedResource[], options: TranslateOptions = DEFAULT_TRANSLATE_OPTIONS): TranslateResult {
  const idx = new ResourceIndex(resources);
  const status = new StatusCollector();
  const errors: ConfigError[] = [];
  const backends: Record<string, IRBackend> = {};
  const policyErrors: ConfigError[] = [];
  const istio = new IstioTranslator(idx, options.rootNamespace, status, errors, policyErrors);
  const pathNormalization = options.pathNormalization ?? istio.pathNormalization ?? 'BASE';
  const gw = translateGateways(idx, status, { gatewayClass: options.gatewayClass, bindAddress: options.bindAddress, pathNormalization, connection: options.connection ?? DEFAULT_CONNECTION });
  istio.applyPeerAuthentication(gw.listeners, gw.sections);
  istio.applyGatewayTopology(gw.listeners, gw.sections);
  // Routes first, without policies; then the attachment phase, one family after another
  // (docs/policy-families.md: a new family is one more entry here).
  const backendResources = translateRoutes(idx, gw.sections, backends, status);
  const families: PolicyFamily[] = [
    // Listener settings first: the client address every IP rule reads.
    attachClientTrafficPolicies,
    (ctx) => istio.attach(ctx),
    attachBackendTrafficPolicies,
    attachSecurityPolicies,
  ];
  const ctx: AttachContext = { idx, targets: buildInventory(idx, gw.listeners), sections: gw.sections, backends, backendResources, status, errors, policyErrors };
  for (const attach of families) attach(ctx);
  for (const s of gw.sections) {
    status.condition(`Gateway/${s.gatewayRef.namespace}/${s.gatewayRef.name}`, {
      type: `Listener/${s.spec.name}`, status: 'True', reason: 'Programmed', message: `${s.attachedRoutes} route(s) attached`,
    });
  }
  // Status says which generation of each object it was computed from (metadata.generation).
  for (const object of status.objects()) {
    const [kind, namespace, ...name] = object.split('/');
    status.setObservedGeneration(object, idx.get(kind, namespace, name.join('/'))?.resource.metadata.generation);
  }
  const body = { listeners: gw.listeners, backends, settings: { limits: options.limits } };
  const version = createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 16);
  const snapshot: Snapshot = { version, generatedAt: new Date().toISOString(), ...body, status: status.list() };
  return { snapshot, errors, policyErrors };
}
