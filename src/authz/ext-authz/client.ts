// One entry point for both ext_authz protocols.
import { GrpcExtAuthzClient } from './grpc-client.ts';
import { HttpExtAuthzClient } from './http-client.ts';
import type { RequestContext } from '../../core/request.ts';
import type { ExtAuthzConfig, ExtAuthzResult } from './types.ts';

export interface ExtAuthzClient {
  /** Never rejects: transport problems come back as { kind: 'error' }. */
  check(ctx: RequestContext): Promise<ExtAuthzResult>;
  /** Releases the shared connection; call once, when the snapshot is retired. */
  close(): void;
}

export function createExtAuthzClient(cfg: ExtAuthzConfig): ExtAuthzClient {
  return cfg.protocol === 'grpc' ? new GrpcExtAuthzClient(cfg) : new HttpExtAuthzClient(cfg);
}

export { applyExtAuthzResult } from './headers.ts';
export type { ExtAuthzConfig, ExtAuthzHttpConfig, ExtAuthzGrpcConfig, ExtAuthzResult, ExtAuthzEndpoint } from './types.ts';
