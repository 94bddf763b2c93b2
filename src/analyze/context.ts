// What every check reads: the translated snapshot (IR + status, the data
// plane's own source of truth), and where each object is written.
import type { IRFilter, IRRoute, Snapshot } from '../ir/types.ts';
import type { IstioAuthorizationConfig } from '../ir/istio.ts';
import type { LoadedResource } from '../resources/types.ts';
import { resourceKey } from '../resources/types.ts';

export interface AnalyzeInput {
  snapshot: Snapshot;
  /** The resources the snapshot was translated from (for file:line and selectors). */
  resources: readonly LoadedResource[];
}

/** One hop of one route rule, with its Istio authorization and authentication, as the data plane runs them. */
export interface Hop {
  /** "Gateway/ns/name" or "Service/ns/name". */
  name: string;
  route: IRRoute;
  listenerPort: number;
  authz: IstioAuthorizationConfig | undefined;
  /** A RequestAuthentication applies here (a JWT provider). */
  jwt: boolean;
}

export class AnalyzeContext {
  readonly snapshot: Snapshot;
  readonly resources: readonly LoadedResource[];
  private byKey = new Map<string, LoadedResource>();

  constructor(input: AnalyzeInput) {
    this.snapshot = input.snapshot;
    this.resources = input.resources;
    for (const r of input.resources) this.byKey.set(resourceKey(r.resource), r);
  }

  get(key: string): LoadedResource | undefined {
    return this.byKey.get(key);
  }

  /** "file:line" of an object, or of one of its fields when the loader knows the line. */
  at(key: string, path?: (string | number)[]): string | undefined {
    const src = this.byKey.get(key)?.source;
    if (!src) return undefined;
    const line = (path && src.lineOf?.(path)) ?? src.line;
    return `${src.file}:${line}`;
  }

  ofKind(kind: string): LoadedResource[] {
    return this.resources.filter((r) => r.resource.kind === kind);
  }

  /** Every hop of every route rule: the Gateway hop (route filters), then each backend's destination hop. */
  *hops(): Generator<Hop> {
    for (const l of this.snapshot.listeners) {
      for (const route of l.routes) {
        yield hopOf(`Gateway/${route.section.gateway.namespace}/${route.section.gateway.name}`, route, l.port, route.filters);
        if (route.action.type !== 'proxy') continue;
        for (const b of route.action.backends) {
          const src = b.backend ? this.snapshot.backends[b.backend]?.source : undefined;
          if (src) yield hopOf(src.replace(/:\d+$/, ''), route, l.port, b.filters);
        }
      }
    }
  }
}

function hopOf(name: string, route: IRRoute, listenerPort: number, filters: readonly IRFilter[]): Hop {
  let authz: IstioAuthorizationConfig | undefined;
  let jwt = false;
  for (const f of filters) {
    if (f.type === 'istio.authorization') authz = f.config as IstioAuthorizationConfig;
    if (f.type === 'istio.requestAuthentication') jwt = true;
  }
  return { name, route, listenerPort, authz, jwt };
}

/** Every policy an authorization config holds, enforced or shadow. */
export function policiesOf(c: IstioAuthorizationConfig): { origin: string; action: 'ALLOW' | 'DENY' | 'AUDIT' | 'CUSTOM'; dryRun: boolean }[] {
  return [
    ...(c.custom?.policies ?? []).map((p) => ({ origin: p.origin, action: 'CUSTOM' as const, dryRun: false })),
    ...c.deny.map((p) => ({ origin: p.origin, action: 'DENY' as const, dryRun: false })),
    ...(c.allow ?? []).map((p) => ({ origin: p.origin, action: 'ALLOW' as const, dryRun: false })),
    ...c.audit.map((p) => ({ origin: p.origin, action: 'AUDIT' as const, dryRun: false })),
    ...c.dryRun.deny.map((p) => ({ origin: p.origin, action: 'DENY' as const, dryRun: true })),
    ...(c.dryRun.allow ?? []).map((p) => ({ origin: p.origin, action: 'ALLOW' as const, dryRun: true })),
  ];
}
