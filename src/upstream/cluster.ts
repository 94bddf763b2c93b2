// A backend's endpoints (its replicas) and how one is picked per request.
import type { Pool } from 'undici';
import type { IRBackend, IREndpoint } from '../ir/types.ts';
import type { PoolRegistry } from './pools.ts';
import type { IRPoolSettings } from '../ir/traffic.ts';

export interface Member {
  endpoint: IREndpoint;
  pool: Pool;
  /** "host:port", for the access log. */
  address: string;
  /** Requests in flight to it (LeastRequest), across the route rules that share it. */
  active: number;
  /** useClientProtocol: a pool per protocol, picked by the client's (`pool` is the HTTP/1.1 one). */
  h2Pool?: Pool;
}

export class Cluster {
  readonly id: string;
  readonly ir: IRBackend;
  /** The ready endpoints: what balancers pick from (never mutated while the snapshot serves). */
  members: readonly Member[];
  private next = 0;
  private registry: PoolRegistry;
  private settings: IRPoolSettings | undefined;
  /** useClientProtocol: the backend as spoken to HTTP/1.1 clients and as spoken to HTTP/2 clients. */
  private byProtocol: { h1: IRBackend; h2: IRBackend } | undefined;

  constructor(ir: IRBackend, registry: PoolRegistry, settings?: IRPoolSettings, clientProtocol = false) {
    this.id = ir.id;
    this.ir = ir;
    this.registry = registry;
    this.settings = settings;
    const { protocol: _, ...h1 } = ir;
    this.byProtocol = clientProtocol ? { h1, h2: { ...ir, protocol: 'h2' } } : undefined;
    const by = this.byProtocol;
    this.members = ir.endpoints
      .filter((ep) => ep.ready)
      .map((ep) => ({
        endpoint: ep,
        pool: registry.acquire(ep, by ? by.h1 : ir, settings),
        ...(by ? { h2Pool: registry.acquire(ep, by.h2, settings) } : {}),
        address: ep.host.includes(':') ? `[${ep.host}]:${ep.port}` : `${ep.host}:${ep.port}`,
        active: 0,
      }));
  }

  /** Round-robin over ready endpoints (mirrors; a route's own choice is its Balancer's); undefined when there is none (503). */
  pick(): Member | undefined {
    const n = this.members.length;
    if (n === 0) return undefined;
    if (n === 1) return this.members[0];
    const m = this.members[this.next];
    this.next = this.next + 1 === n ? 0 : this.next + 1;
    return m;
  }

  /** The same backend over pools with a route rule's own connection settings (closed with the balancer that asked). */
  withSettings(settings: IRPoolSettings | undefined, clientProtocol = false): Cluster {
    return new Cluster(this.ir, this.registry, settings, clientProtocol);
  }

  close(): void {
    const by = this.byProtocol;
    for (const m of this.members) {
      this.registry.release(m.endpoint, by ? by.h1 : this.ir, this.settings);
      if (by) this.registry.release(m.endpoint, by.h2, this.settings);
    }
    this.members = [];
  }
}
