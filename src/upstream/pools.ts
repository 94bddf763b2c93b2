// Connection pools to upstream endpoints, shared across snapshots: a reload
// that keeps an endpoint keeps its warm keep-alive connections.
import { Pool } from './undici-pool.ts';
import type { IRBackend, IREndpoint } from '../ir/types.ts';
import type { IRPoolSettings } from '../ir/traffic.ts';

export interface PoolOptions {
  connections: number;
  keepAliveTimeoutMs: number;
}

const DEFAULTS: PoolOptions = { connections: 128, keepAliveTimeoutMs: 60_000 };

export class PoolRegistry {
  private pools = new Map<string, { pool: Pool; refs: number }>();
  private opts: PoolOptions;

  constructor(opts: Partial<PoolOptions> = {}) {
    this.opts = { ...DEFAULTS, ...opts };
  }

  static key(ep: IREndpoint, backend: IRBackend, settings?: IRPoolSettings): string {
    const tls = backend.tls ? `tls:${backend.tls.sni ?? ''}:${backend.tls.insecureSkipVerify ? 1 : 0}` : 'plain';
    const own = settings ? `|${settings.maxRequestsPerConnection}/${settings.connectTimeoutMs}/${settings.idleTimeoutMs}` : '';
    return `${ep.host}:${ep.port}|${tls}|${backend.protocol ?? 'h1'}${own}`;
  }

  /** The pool of an endpoint; with settings (a route rule's policy), one of its own for those settings. */
  acquire(ep: IREndpoint, backend: IRBackend, settings?: IRPoolSettings): Pool {
    const key = PoolRegistry.key(ep, backend, settings);
    const hit = this.pools.get(key);
    if (hit) {
      hit.refs++;
      return hit.pool;
    }
    const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
    const origin = `${backend.tls ? 'https' : 'http'}://${host}:${ep.port}`;
    const pool = new Pool(origin, {
      connections: this.opts.connections,
      keepAliveTimeout: settings?.idleTimeoutMs || this.opts.keepAliveTimeoutMs,
      // A server's Keep-Alive hint may shorten it, never lengthen a policy's connectionIdleTimeout.
      keepAliveMaxTimeout: settings?.idleTimeoutMs || undefined,
      // Response header block limit as generous as Envoy's (60 KiB) — the limit belongs to the client side.
      maxHeaderSize: 64 * 1024,
      maxRequestsPerClient: settings?.maxRequestsPerConnection || undefined,
      connectTimeout: settings?.connectTimeoutMs || undefined,
      // HTTP/2 backends: ALPN h2 over TLS, prior knowledge (h2c) without it; one connection multiplexes.
      // Anything else is HTTP/1.1 (IRBackend.protocol): undici 8 would otherwise offer h2 by ALPN to every TLS backend.
      ...(backend.protocol === 'h2' ? { allowH2: true, useH2c: !backend.tls } : { allowH2: false }),
      connect: backend.tls
        ? { servername: backend.tls.sni, rejectUnauthorized: !backend.tls.insecureSkipVerify, ca: backend.tls.caPem }
        : undefined,
    });
    this.pools.set(key, { pool, refs: 1 });
    return pool;
  }

  release(ep: IREndpoint, backend: IRBackend, settings?: IRPoolSettings): void {
    const key = PoolRegistry.key(ep, backend, settings);
    const hit = this.pools.get(key);
    if (!hit) return;
    if (--hit.refs <= 0) {
      this.pools.delete(key);
      // Requests in flight finish; then the pool closes its sockets.
      hit.pool.close().catch(() => {});
    }
  }

  async closeAll(): Promise<void> {
    const all = [...this.pools.values()];
    this.pools.clear();
    await Promise.allSettled(all.map((p) => p.pool.close()));
  }
}
