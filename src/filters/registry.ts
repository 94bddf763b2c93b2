// Every filter module, by IR filter type. A filter type missing here is a
// translate bug, reported when the snapshot is compiled (never at request time).
import type { FilterModule } from './types.ts';
import { requestHeaderModifier, responseHeaderModifier } from './header-modifier.ts';
import { failClosed } from './fail-closed.ts';
import { mtlsPeer } from './mtls-peer.ts';
import { istioRequestAuthentication } from './istio-request-authentication.ts';
import { istioAuthorizationFilter } from './istio-authorization.ts';
import { localRateLimit, globalRateLimit } from './rate-limit.ts';
import { faultInjection } from './fault-injection.ts';

const modules = new Map<string, FilterModule<any>>();

export function registerFilter(m: FilterModule<any>): void {
  modules.set(m.type, m);
}

export function filterModule(type: string): FilterModule<any> | undefined {
  return modules.get(type);
}

for (const m of [failClosed, mtlsPeer, istioRequestAuthentication, istioAuthorizationFilter, requestHeaderModifier, responseHeaderModifier]) registerFilter(m);
for (const m of [localRateLimit, globalRateLimit, faultInjection]) registerFilter(m);
