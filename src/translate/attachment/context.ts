// The attachment phase's contract: after Gateways and routes are translated,
// translate/index.ts calls each policy family once with this context. A family
// resolves its policies' targets, picks winners (winners.ts) and adds IR
// filters to the translated routes (TranslatedRouteRule.ir) or listeners.
import type { IRBackend } from '../../ir/types.ts';
import type { ConfigError } from '../../resources/errors.ts';
import type { LoadedResource } from '../../resources/types.ts';
import type { AttachableSection } from '../gateways.ts';
import type { ResourceIndex } from '../index-resources.ts';
import type { StatusCollector } from '../status.ts';
import type { TargetInventory } from './inventory.ts';

export interface AttachContext {
  idx: ResourceIndex;
  /** Gateways, routes and the programmed route rules / listeners policies attach to. */
  targets: TargetInventory;
  /** The accepted Gateway listeners (with their Gateway resource). */
  sections: readonly AttachableSection[];
  /** The snapshot's clusters: a family may add its own (an ext_authz service...). */
  backends: Record<string, IRBackend>;
  /** The Service/Backend resource behind each backend id routes picked. */
  backendResources: ReadonlyMap<string, LoadedResource>;
  status: StatusCollector;
  /** Errors that reject the whole snapshot. */
  errors: ConfigError[];
  /** Policies rejected on their own (reported; their targets treated conservatively). */
  policyErrors: ConfigError[];
}

/** One policy family's attachment step (Istio security, SecurityPolicy, ...). */
export type PolicyFamily = (ctx: AttachContext) => void;
