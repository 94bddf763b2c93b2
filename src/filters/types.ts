// The contract between the data plane and every filter module.
// A filter module compiles its IR config once per snapshot into a handler;
// the handler runs per request and returns a decision.
import type { RequestContext } from '../dataplane/context.ts';
import type { Snapshot } from '../ir/types.ts';
import type { IRFilterConfigs, IRFilterType } from '../ir/filters.ts';

/** What a filter may answer instead of letting the request go on. */
export interface Reply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  /**
   * Close the connection without an answer, as a refused TLS handshake would
   * (Istio STRICT mTLS against a peer without a verified certificate). The
   * status is what the access log and metrics record.
   */
  reset?: boolean;
}

/** undefined = continue to the next filter. A Promise only when I/O is really needed. */
export type Decision = Reply | undefined;

export type RequestHandler = (ctx: RequestContext) => Decision | Promise<Decision>;

/** Runs on the response head going to the client (proxied or replied by a filter). */
export type ResponseHandler = (ctx: RequestContext, status: number, headers: Record<string, string | string[] | number | undefined>) => void;

export interface CompiledFilter {
  /** Filter type, for the decision trace. */
  type: string;
  onRequest?: RequestHandler;
  onResponse?: ResponseHandler;
  /** Release timers, sockets or caches when the snapshot is retired. */
  close?: () => void;
}

/** Context available when compiling (never per request). */
export interface CompileContext {
  snapshot: Snapshot;
  /** Resource that asked for this filter (IRFilter.origin). */
  origin: string;
}

export interface FilterModule<Config = unknown, Type extends string = string> {
  type: Type;
  compile(config: Config, cc: CompileContext): CompiledFilter;
}

/** The module for one IR filter type: its config type comes from src/ir/filters.ts. */
export type FilterModuleFor<T extends IRFilterType> = FilterModule<IRFilterConfigs[T], T>;
