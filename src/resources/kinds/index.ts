// The registry of resource kinds Portcullis reads: which apiVersions each is
// served under, its REST plural and scope (for the Kubernetes-compatible
// management API), its JSON schema, and the semantic checks that run after
// the schema passes.
import type { SemanticCheck } from './issues.ts';
import { gatewayClassSchema, gatewaySchema, checkGateway } from './gatewayapi-gateway.ts';
import { httpRouteSchema, checkHTTPRoute } from './gatewayapi-httproute.ts';
import { grpcRouteSchema, checkGRPCRoute } from './gatewayapi-grpcroute.ts';
import { referenceGrantSchema } from './gatewayapi-referencegrant.ts';
import { backendSchema, checkBackend } from './envoygateway-backend.ts';
import { backendTrafficPolicySchema, checkBackendTrafficPolicy } from './envoygateway-backendtrafficpolicy.ts';
import { securityPolicySchema, checkSecurityPolicy } from './envoygateway-securitypolicy.ts';
import { clientTrafficPolicySchema, checkClientTrafficPolicy } from './envoygateway-clienttrafficpolicy.ts';
import { secretSchema, configMapSchema, namespaceSchema, checkSecret, checkConfigMap } from './core-config.ts';
import { serviceSchema, checkService } from './core-service.ts';
import { endpointSliceSchema, checkEndpointSlice } from './discovery-endpointslice.ts';
import { authorizationPolicySchema, checkAuthorizationPolicy } from './istio-authorizationpolicy.ts';
import {
  requestAuthenticationSchema, peerAuthenticationSchema, checkRequestAuthentication, checkPeerAuthentication,
} from './istio-authentication.ts';

export interface KindInfo {
  /** API group; "" for the core group (apiVersion "v1"). */
  group: string;
  /** Served versions; the first is the preferred one. */
  versions: string[];
  kind: string;
  /** Lowercase plural resource name, as in REST paths (e.g. "httproutes"). */
  plural: string;
  namespaced: boolean;
  /** JSON schema (draft-07, for ajv) of the whole object. */
  schema: object;
  /** Rules beyond the schema, run only when the schema passed. */
  check?: SemanticCheck;
}

const GATEWAY_API = 'gateway.networking.k8s.io';
const ISTIO_SECURITY = 'security.istio.io';

export const KINDS: KindInfo[] = [
  { group: GATEWAY_API, versions: ['v1', 'v1beta1'], kind: 'GatewayClass', plural: 'gatewayclasses', namespaced: false, schema: gatewayClassSchema },
  { group: GATEWAY_API, versions: ['v1', 'v1beta1'], kind: 'Gateway', plural: 'gateways', namespaced: true, schema: gatewaySchema, check: checkGateway },
  { group: GATEWAY_API, versions: ['v1', 'v1beta1'], kind: 'HTTPRoute', plural: 'httproutes', namespaced: true, schema: httpRouteSchema, check: checkHTTPRoute },
  { group: GATEWAY_API, versions: ['v1', 'v1alpha2'], kind: 'GRPCRoute', plural: 'grpcroutes', namespaced: true, schema: grpcRouteSchema, check: checkGRPCRoute },
  { group: GATEWAY_API, versions: ['v1beta1', 'v1'], kind: 'ReferenceGrant', plural: 'referencegrants', namespaced: true, schema: referenceGrantSchema },
  { group: 'gateway.envoyproxy.io', versions: ['v1alpha1'], kind: 'Backend', plural: 'backends', namespaced: true, schema: backendSchema, check: checkBackend },
  { group: 'gateway.envoyproxy.io', versions: ['v1alpha1'], kind: 'BackendTrafficPolicy', plural: 'backendtrafficpolicies', namespaced: true, schema: backendTrafficPolicySchema, check: checkBackendTrafficPolicy },
  { group: 'gateway.envoyproxy.io', versions: ['v1alpha1'], kind: 'SecurityPolicy', plural: 'securitypolicies', namespaced: true, schema: securityPolicySchema, check: checkSecurityPolicy },
  { group: 'gateway.envoyproxy.io', versions: ['v1alpha1'], kind: 'ClientTrafficPolicy', plural: 'clienttrafficpolicies', namespaced: true, schema: clientTrafficPolicySchema, check: checkClientTrafficPolicy },
  { group: '', versions: ['v1'], kind: 'Secret', plural: 'secrets', namespaced: true, schema: secretSchema, check: checkSecret },
  { group: '', versions: ['v1'], kind: 'ConfigMap', plural: 'configmaps', namespaced: true, schema: configMapSchema, check: checkConfigMap },
  { group: '', versions: ['v1'], kind: 'Namespace', plural: 'namespaces', namespaced: false, schema: namespaceSchema },
  { group: '', versions: ['v1'], kind: 'Service', plural: 'services', namespaced: true, schema: serviceSchema, check: checkService },
  { group: 'discovery.k8s.io', versions: ['v1'], kind: 'EndpointSlice', plural: 'endpointslices', namespaced: true, schema: endpointSliceSchema, check: checkEndpointSlice },
  { group: ISTIO_SECURITY, versions: ['v1', 'v1beta1'], kind: 'AuthorizationPolicy', plural: 'authorizationpolicies', namespaced: true, schema: authorizationPolicySchema, check: checkAuthorizationPolicy },
  { group: ISTIO_SECURITY, versions: ['v1', 'v1beta1'], kind: 'RequestAuthentication', plural: 'requestauthentications', namespaced: true, schema: requestAuthenticationSchema, check: checkRequestAuthentication },
  { group: ISTIO_SECURITY, versions: ['v1', 'v1beta1'], kind: 'PeerAuthentication', plural: 'peerauthentications', namespaced: true, schema: peerAuthenticationSchema, check: checkPeerAuthentication },
];

/** "group/version", or just "version" for the core group. */
export function apiVersionOf(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

const BY_API_VERSION_AND_KIND = new Map<string, KindInfo>();
const BY_API_VERSION_AND_PLURAL = new Map<string, KindInfo>();
for (const k of KINDS) {
  for (const v of k.versions) {
    BY_API_VERSION_AND_KIND.set(`${apiVersionOf(k.group, v)}\u0000${k.kind}`, k);
    BY_API_VERSION_AND_PLURAL.set(`${apiVersionOf(k.group, v)}\u0000${k.plural}`, k);
  }
}

export function findKind(apiVersion: string, kind: string): KindInfo | undefined {
  return BY_API_VERSION_AND_KIND.get(`${apiVersion}\u0000${kind}`);
}

/** The kind behind a REST path such as /apis/{group}/{version}/namespaces/{ns}/{plural}. */
export function findKindByPlural(apiVersion: string, plural: string): KindInfo | undefined {
  return BY_API_VERSION_AND_PLURAL.get(`${apiVersion}\u0000${plural}`);
}
