// Runs a chain of request handlers in order. Synchronous while every handler
// is; switches to a Promise only from the first handler that needs I/O.
import type { Decision, Reply } from '../filters/types.ts';
import type { RequestContext } from './context.ts';
import type { Chain } from './compile.ts';
import { CLIENT_CLOSED, type Observer } from './observe.ts';
import type { Res } from './respond.ts';

export function runChain(ctx: RequestContext, chain: Chain, from = 0): Reply | undefined | Promise<Decision> {
  const list = chain.request;
  for (let i = from; i < list.length; i++) {
    const d = list[i].fn(ctx);
    if (d === undefined) continue;
    if (typeof (d as Promise<Decision>).then === 'function') {
      return (d as Promise<Decision>).then((r) => (r === undefined ? runChain(ctx, chain, i + 1) : r));
    }
    return d as Reply;
  }
  return undefined;
}

/**
 * Run a hop's chain, then either answer its reply or go on with `next`
 * (unless the client has gone away meanwhile: then only account for it). A
 * filter that fails, or a `next` that throws after an awaited filter, costs
 * this request a 500, never the process (a rejected promise left unhandled
 * would end it).
 */
export function runChainThen(ctx: RequestContext, res: Res, chain: Chain, replyChains: readonly Chain[], obs: Observer, next: () => void): void {
  const d = runChain(ctx, chain);
  if (d === undefined) next();
  else if ('then' in d) {
    d.then((reply) => {
      // The client left while a filter was deciding: nothing to answer, nothing to send upstream.
      if (res.destroyed) obs.done(ctx, CLIENT_CLOSED, undefined);
      else if (reply) obs.reply(res, ctx, reply, replyChains);
      else next();
    }).catch((err: unknown) => obs.internalError(ctx, res, err));
  } else obs.reply(res, ctx, d, replyChains);
}
