// The data plane of one process: compiled snapshot, listening sockets, pools.
// A new snapshot is compiled aside and swapped in with one assignment;
// requests in flight keep the snapshot they started with.
import type { Logger } from 'pino';
import type { AccessLog } from '../log/access-log.ts';
import type { IRLimits, Snapshot } from '../ir/types.ts';
import { compileSnapshot, type CompiledSnapshot } from './compile.ts';
import { openListener, type ListenerServer } from './listeners.ts';
import { handleRequest } from './handler.ts';
import { Observer } from './observe.ts';
import { PoolRegistry } from '../upstream/pools.ts';
import type { DataPlaneMetrics } from '../admin/request-metrics.ts';

export interface DataPlaneOptions {
  /** Address every listener binds to. */
  bind: string;
  reusePort: boolean;
  log: Logger;
  access: AccessLog | undefined;
  metrics: DataPlaneMetrics;
  /** Called with each address as it starts listening. */
  onListening?: (address: string, protocol: string) => void;
}

export interface PreparedSnapshot {
  version: string;
  commit(): void;
  abort(): Promise<void>;
}

function addressOf(s: ListenerServer): string {
  const a = s.server.address();
  if (!a || typeof a !== 'object') return String(a);
  return `${a.address.includes(':') ? `[${a.address}]` : a.address}:${a.port}`;
}

export class DataPlane {
  current: CompiledSnapshot | undefined;
  pending: CompiledSnapshot | undefined;
  private servers = new Map<number, ListenerServer>();
  private pools = new PoolRegistry();
  private opts: DataPlaneOptions;
  private obs: Observer;
  limits: IRLimits = { maxHeaderBytes: 60 * 1024, maxUrlBytes: 16 * 1024, maxBodyBytes: 0 };

  constructor(opts: DataPlaneOptions) {
    this.opts = opts;
    this.obs = new Observer(opts.log, opts.access, opts.metrics);
  }

  /** Ports actually listened on (useful when a listener asked for port 0). */
  boundPorts(): Map<number, number> {
    const out = new Map<number, number>();
    for (const [port, s] of this.servers) {
      const a = s.server.address();
      if (a && typeof a === 'object') out.set(port, a.port);
    }
    return out;
  }

  /** Compile and serve a snapshot (prepare + commit). */
  async apply(ir: Snapshot): Promise<void> {
    (await this.prepare(ir)).commit();
  }

  /**
   * Compile a snapshot and open any new port, without serving it yet. Throws
   * (the running snapshot stays) when it cannot be compiled or a port cannot be
   * opened. Workers prepare first and commit only when every one succeeded.
   */
  async prepare(ir: Snapshot): Promise<PreparedSnapshot> {
    const next = await compileSnapshot(ir, this.pools);
    const opened: ListenerServer[] = [];
    const limits = ir.settings.limits;
    const previousPending = this.pending;
    this.pending = next;
    try {
      for (const l of ir.listeners) {
        const existing = this.servers.get(l.port);
        if (existing && existing.protocol === l.protocol && existing.maxHeaderBytes === limits.maxHeaderBytes) continue;
        if (existing) {
          // The socket's options change: reopen it (a brief gap on this port only).
          this.servers.delete(l.port);
          await existing.close(1000);
        }
        const port = l.port;
        const server = await openListener(l.protocol, {
          host: this.opts.bind,
          port,
          maxHeaderBytes: limits.maxHeaderBytes,
          reusePort: this.opts.reusePort,
          current: () => this.current?.listeners.get(port) ?? this.pending?.listeners.get(port),
          onRequest: (req, res) => handleRequest(this, this.obs, port, req, res),
          onError: (err) => this.opts.log.error({ err, port }, 'listener error'),
          onClientReply: (status, reason, client) => this.obs.refused(status, reason, client),
          onRefusedConnection: (kind, detail, client) => {
            this.opts.metrics.refusedConnections.inc(String(port), kind);
            this.opts.log.debug({ port, client, reason: detail }, 'connection closed');
          },
        });
        opened.push(server);
        this.servers.set(port, server);
      }
    } catch (err) {
      this.pending = previousPending;
      for (const s of opened) {
        this.servers.delete(s.port);
        await s.close(0);
      }
      next.close();
      throw err;
    }
    let settled = false;
    return {
      version: ir.version,
      commit: () => {
        if (settled) return;
        settled = true;
        if (this.pending === next) this.pending = undefined;
        const old = this.current;
        this.limits = limits;
        this.current = next;
        for (const l of ir.listeners) this.servers.get(l.port)?.updateTls(next.listeners.get(l.port)!);
        for (const s of opened) this.opts.onListening?.(addressOf(s), s.protocol);
        // Ports no longer in the configuration stop accepting; their requests in flight finish.
        const keep = new Set(ir.listeners.map((l) => l.port));
        for (const [port, s] of this.servers) {
          if (!keep.has(port)) {
            this.servers.delete(port);
            void s.close(10_000);
          }
        }
        old?.close();
      },
      abort: async () => {
        if (settled) return;
        settled = true;
        if (this.pending === next) this.pending = undefined;
        for (const s of opened) {
          this.servers.delete(s.port);
          await s.close(0);
        }
        next.close();
      },
    };
  }

  /** Graceful shutdown: stop accepting, let requests in flight finish up to the deadline. */
  async shutdown(deadlineMs: number): Promise<void> {
    const all = [...this.servers.values()];
    this.servers.clear();
    await Promise.all(all.map((s) => s.close(deadlineMs)));
    this.current?.close();
    this.current = undefined;
    await this.pools.closeAll();
    this.opts.access?.flush();
  }
}
