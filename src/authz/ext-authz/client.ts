// One entry point for both ext_authz protocols. The gRPC one is loaded only
// when a snapshot configures it: @grpc/grpc-js and protobuf cost every worker
// tens of MiB that a gateway without a gRPC authorizer never uses.
import { HttpExtAuthzClient } from './http-client.ts';
import type { RequestContext } from '../../core/request.ts';
import type { ExtAuthzConfig, ExtAuthzGrpcConfig, ExtAuthzResult } from './types.ts';

export interface ExtAuthzClient {
  /** Never rejects: transport problems come back as { kind: 'error' }. */
  check(ctx: RequestContext): Promise<ExtAuthzResult>;
  /** Releases the shared connection; call once, when the snapshot is retired. */
  close(): void;
}

export function createExtAuthzClient(cfg: ExtAuthzConfig): ExtAuthzClient {
  const client = cfg.protocol === 'grpc' ? new LazyGrpcClient(cfg) : new HttpExtAuthzClient(cfg);
  return cfg.retries ? new RetryingClient(client, cfg.retries, cfg.timeoutMs) : client;
}

/**
 * backendSettings.retry: a failed check (not a denial) is sent again — the
 * clients go round-robin, so to the next endpoint — unless it failed by
 * running out of time (a timed-out check is not retried: the client would
 * wait the timeout again for each retry).
 */
class RetryingClient implements ExtAuthzClient {
  readonly #inner: ExtAuthzClient;
  readonly #retries: number;
  readonly #timeoutMs: number;

  constructor(inner: ExtAuthzClient, retries: number, timeoutMs: number) {
    this.#inner = inner;
    this.#retries = retries;
    this.#timeoutMs = timeoutMs;
  }

  async check(ctx: RequestContext): Promise<ExtAuthzResult> {
    const started = Date.now();
    let result = await this.#inner.check(ctx);
    for (let i = 0; i < this.#retries && result.kind === 'error' && Date.now() - started < this.#timeoutMs; i++) {
      result = await this.#inner.check(ctx);
    }
    return result;
  }

  close(): void {
    this.#inner.close();
  }
}

/**
 * Starts loading the gRPC client when the snapshot is compiled (well before
 * its first request); once loaded, checks go straight to it.
 */
class LazyGrpcClient implements ExtAuthzClient {
  #client: ExtAuthzClient | undefined;
  #loading: Promise<ExtAuthzClient | Error>;
  #closed = false;

  constructor(cfg: ExtAuthzGrpcConfig) {
    this.#loading = import('./grpc-client.ts').then(
      (m) => {
        this.#client = new m.GrpcExtAuthzClient(cfg);
        if (this.#closed) this.#client.close();
        return this.#client;
      },
      (err: unknown) => (err instanceof Error ? err : new Error(String(err))),
    );
  }

  check(ctx: RequestContext): Promise<ExtAuthzResult> {
    if (this.#client) return this.#client.check(ctx);
    return this.#loading.then((c) => (c instanceof Error ? { kind: 'error', reason: `gRPC client failed to load: ${c.message}` } : c.check(ctx)));
  }

  close(): void {
    this.#closed = true;
    this.#client?.close();
  }
}

export { applyExtAuthzResult } from './headers.ts';
export type { ExtAuthzConfig, ExtAuthzHttpConfig, ExtAuthzGrpcConfig, ExtAuthzResult, ExtAuthzEndpoint } from './types.ts';
