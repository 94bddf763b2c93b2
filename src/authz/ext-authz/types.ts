// External authorization (Envoy's ext_authz protocol). Its configs are IR data
// (src/ir/ext-authz.ts, re-exported here); the normalized result is runtime only.

export type { ExtAuthzBody, ExtAuthzCommon, ExtAuthzConfig, ExtAuthzEndpoint, ExtAuthzGrpcConfig, ExtAuthzHttpConfig } from '../../ir/ext-authz.ts';

/** What the authorization service decided, normalized across both protocols. */
export type ExtAuthzResult =
  | {
      kind: 'allow';
      /** Set on the upstream request, replacing existing values. */
      upstreamSet: [string, string][];
      /** Appended to the upstream request's existing values. */
      upstreamAppend: [string, string][];
      /** Removed from the upstream request. */
      upstreamRemove: string[];
      /** Added to the client's response. */
      responseHeaders: [string, string][];
    }
  | {
      kind: 'deny';
      status: number;
      headers: [string, string][];
      body: string;
    }
  | {
      kind: 'error';
      /** For the trace and logs: what went wrong, never a header or body value. */
      reason: string;
    };
