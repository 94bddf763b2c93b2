// Runs a chain of request handlers in order. Synchronous while every handler
// is; switches to a Promise only from the first handler that needs I/O.
import type { Decision, Reply } from '../core/decision.ts';
import type { RequestContext } from '../core/request.ts';
import type { Chain } from './compile.ts';

/** Handlers [from, to) of the chain (to: a recomputeRoute point stops there, see decide.ts). */
export function runChain(ctx: RequestContext, chain: Chain, from = 0, to = chain.request.length): Reply | undefined | Promise<Decision> {
  const list = chain.request;
  for (let i = from; i < to; i++) {
    const d = list[i].fn(ctx);
    if (d === undefined) continue;
    if (typeof (d as Promise<Decision>).then === 'function') {
      return (d as Promise<Decision>).then((r) => (r === undefined ? runChain(ctx, chain, i + 1, to) : r));
    }
    return d as Reply;
  }
  return undefined;
}
