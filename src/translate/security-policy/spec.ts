// The SecurityPolicy spec as translate reads it, after src/resources validated it.
import type { PolicyTargeting } from '../attachment/index.ts';

type SecretRef = { group?: string; kind?: string; name: string; namespace?: string };
export type BackendRef = { group?: string; kind?: string; name: string; namespace?: string; port?: number };
interface BackendCluster {
  backendRef?: BackendRef;
  backendRefs?: BackendRef[];
  backendSettings?: Record<string, unknown>;
}

export interface SecurityPolicySpec extends PolicyTargeting {
  targetRef?: PolicyTargeting['targetRef'] & { namespace?: string };
  cors?: { allowOrigins?: string[]; allowMethods?: string[]; allowHeaders?: string[]; exposeHeaders?: string[]; maxAge?: string; allowCredentials?: boolean };
  apiKeyAuth?: {
    credentialRefs: SecretRef[];
    extractFrom: { headers?: string[]; params?: string[]; cookies?: string[] }[];
    forwardClientIDHeader?: string;
    sanitize?: boolean;
  };
  basicAuth?: { users: SecretRef; forwardUsernameHeader?: string };
  jwt?: {
    optional?: boolean;
    providers: {
      name: string;
      issuer?: string;
      audiences?: string[];
      remoteJWKS?: { uri: string; cacheDuration?: string } & BackendCluster;
      localJWKS?: { type?: 'Inline' | 'ValueRef'; inline?: string; valueRef?: { group?: string; kind: string; name: string } };
      claimToHeaders?: { header: string; claim: string }[];
      recomputeRoute?: boolean;
      extractFrom?: { headers?: { name: string; valuePrefix?: string }[]; cookies?: string[]; params?: string[] };
    }[];
  };
  oidc?: Record<string, unknown>;
  extAuth?: {
    grpc?: BackendCluster;
    http?: BackendCluster & { path?: string; headersToBackend?: string[] };
    headersToExtAuth?: string[];
    bodyToExtAuth?: { maxRequestBytes: number };
    failOpen?: boolean;
    recomputeRoute?: boolean;
    timeout?: string;
  };
  authorization?: {
    defaultAction?: 'Allow' | 'Deny';
    rules?: {
      name?: string;
      action: 'Allow' | 'Deny';
      operation?: { methods: string[] };
      principal: {
        clientCIDRs?: string[];
        jwt?: { provider: string; claims?: { name: string; valueType?: 'String' | 'StringArray'; values: string[] }[]; scopes?: string[] };
        headers?: { name: string; values: string[] }[];
      };
    }[];
  };
  /** Portcullis's extension (not Envoy Gateway's). */
  portcullis?: {
    authentication?: { mode?: 'AllOf' | 'AnyOf' };
    botDetection?: { builtInRules?: boolean; allow?: string[]; deny?: string[] };
  };
}
