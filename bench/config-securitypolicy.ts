// Configurations for the SecurityPolicy scenario: the plain route behind an
// Envoy Gateway SecurityPolicy — the full chain (CORS + JWT RS256 + an
// authorization rule on a claim), or API key authentication.
import { stringify } from 'yaml';
import { plainConfig, type GeneratedConfig, type Upstreams } from './config-gen.ts';
import type { BenchIssuer } from './jwt.ts';

const NS = 'default';
export const BENCH_ORIGIN = 'https://app.bench.test';
export const BENCH_API_KEY = 'bench-api-key-0123456789abcdef';

function routeTarget(): object {
  return { group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', name: 'plain' };
}

function withDocs(plain: GeneratedConfig, docs: object[]): string {
  return plain.yaml + '---\n' + docs.map((d) => stringify(d)).join('---\n');
}

/** CORS + JWT (RS256, inline JWKS) + authorization (Allow on sub, default Deny); the probe sends a token and an Origin. */
export function fullChainConfig(gatewayPort: number, upstreams: Upstreams, jwt: BenchIssuer): GeneratedConfig & { unauthenticatedStatus: number } {
  const plain = plainConfig(gatewayPort, upstreams);
  const policy = {
    apiVersion: 'gateway.envoyproxy.io/v1alpha1',
    kind: 'SecurityPolicy',
    metadata: { name: 'bench-full-chain', namespace: NS },
    spec: {
      targetRefs: [routeTarget()],
      cors: { allowOrigins: ['https://*.bench.test'], allowMethods: ['GET', 'POST'], allowHeaders: ['authorization'] },
      jwt: { providers: [{ name: 'bench', issuer: jwt.issuer, audiences: ['bench'], localJWKS: { type: 'Inline', inline: jwt.jwks } }] },
      authorization: {
        defaultAction: 'Deny',
        rules: [{ name: 'bench-subject', action: 'Allow', principal: { jwt: { provider: 'bench', claims: [{ name: 'sub', values: ['bench'] }] } } }],
      },
    },
  };
  return {
    yaml: withDocs(plain, [policy]),
    routes: 1,
    probe: {
      ...plain.probe,
      headers: { authorization: `Bearer ${jwt.token}`, origin: BENCH_ORIGIN },
      expect: { ...plain.probe.expect, headers: { 'access-control-allow-origin': BENCH_ORIGIN } },
    },
    unauthenticatedStatus: 401,
  };
}

/** apiKeyAuth from a Secret (one client, the Envoy Gateway form); the probe sends the key. */
export function apiKeyConfig(gatewayPort: number, upstreams: Upstreams): GeneratedConfig & { unauthenticatedStatus: number } {
  const plain = plainConfig(gatewayPort, upstreams);
  const docs = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'bench-keys', namespace: NS }, stringData: { 'bench-client': BENCH_API_KEY } },
    {
      apiVersion: 'gateway.envoyproxy.io/v1alpha1',
      kind: 'SecurityPolicy',
      metadata: { name: 'bench-api-key', namespace: NS },
      spec: { targetRefs: [routeTarget()], apiKeyAuth: { credentialRefs: [{ name: 'bench-keys' }], extractFrom: [{ headers: ['x-api-key'] }] } },
    },
  ];
  return { yaml: withDocs(plain, docs), routes: 1, probe: { ...plain.probe, headers: { 'x-api-key': BENCH_API_KEY } }, unauthenticatedStatus: 401 };
}
