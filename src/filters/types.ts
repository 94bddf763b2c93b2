// The contract between the data plane and every filter module.
// A filter module compiles its IR config once per snapshot into a handler;
// the handler runs per request and returns a decision.
import type { IRListener, Snapshot } from '../ir/types.ts';
import type { IRFilterConfigs, IRFilterType } from '../ir/filters.ts';

// The decision types live in the bottom layer (core/), shared with the data plane.
export type { Reply, Decision, RequestHandler, ResponseHandler } from '../core/decision.ts';
import type { RequestHandler, ResponseHandler } from '../core/decision.ts';
import type { RequestContext } from '../core/request.ts';

export interface CompiledFilter {
  /** Filter type, for the decision trace. */
  type: string;
  onRequest?: RequestHandler;
  onResponse?: ResponseHandler;
  /** Release timers, sockets or caches when the snapshot is retired. */
  close?: () => void;
  /**
   * The request body this filter must read before it decides (ext_authz with
   * the body, OPA input, a token endpoint). The chain buffers it once, up to
   * the largest maxBytes its filters ask, into ctx.body; routes without such a
   * filter stream the body untouched.
   */
  needsBody?: BodyNeed;
  /**
   * Envoy's clear_route_cache (SecurityPolicy recomputeRoute): once this filter
   * let the request through, true means the route is chosen again, with the
   * headers it set taking part in matching (src/dataplane/recompute-route.ts).
   */
  recomputeRoute?: (ctx: RequestContext) => boolean;
}

export interface BodyNeed {
  maxBytes: number;
  /** Over maxBytes: decide on the first maxBytes (ctx.body.partial) instead of answering 413. */
  allowPartial: boolean;
}

export type { BufferedBody } from '../core/request.ts';

/** Context available when compiling (never per request). */
export interface CompileContext {
  snapshot: Snapshot;
  /** Resource that asked for this filter (IRFilter.origin). */
  origin: string;
  /** The listener whose route (or backend) this copy of the filter serves: its ClientTrafficPolicy may shape the filter's answers. */
  listener: IRListener;
}

export interface FilterModule<Config = unknown, Type extends string = string> {
  type: Type;
  compile(config: Config, cc: CompileContext): CompiledFilter;
  /**
   * Request headers this filter sets to carry identity upstream (claims,
   * payload, consumer, ...). The data plane removes every one of them from the
   * client's request right after routing, on every path the route takes
   * (preflights and unauthenticated requests included), so that only the
   * gateway can set them.
   */
  identityHeaders?(config: Config): readonly string[];
}

/** The module for one IR filter type: its config type comes from src/ir/filters.ts. */
export type FilterModuleFor<T extends IRFilterType> = FilterModule<IRFilterConfigs[T], T>;
