// BackendTrafficPolicy faultInjection: delay and/or abort a share of the
// requests (chaos testing), as Envoy's fault filter does: the delay first,
// then the abort, each drawn independently by its percentage.
import type { CompiledFilter, Decision, FilterModuleFor, Reply } from './types.ts';
import { faultAbort } from '../core/replies.ts';

export const faultInjection: FilterModuleFor<'faultInjection'> = {
  type: 'faultInjection',
  compile(cfg, cc): CompiledFilter {
    const delay = cfg.delay && cfg.delay.ms > 0 && cfg.delay.percent > 0 ? cfg.delay : undefined;
    const abort = cfg.abort && cfg.abort.percent > 0 ? cfg.abort : undefined;
    let reply: Reply | undefined;
    if (abort) {
      reply = faultAbort(abort.httpStatus, abort.grpcStatus);
    }
    const hit = (percent: number) => percent >= 100 || Math.random() * 100 < percent;
    // A share below 100 % is a draw: the trace (explain) says so, whichever way it fell.
    const share = abort && abort.percent < 100 && reply ? ` (${abort.percent}% of requests get ${reply.status})` : '';
    const aborted = (ctx: Parameters<NonNullable<CompiledFilter['onRequest']>>[0]): Decision => {
      if (!abort) return undefined;
      if (!hit(abort.percent)) {
        if (ctx.trace) ctx.record({ filter: 'faultInjection', origin: cc.origin, decision: 'info', reason: `fault abort not drawn${share}` });
        return undefined;
      }
      ctx.record({ filter: 'faultInjection', origin: cc.origin, decision: 'deny', reason: `fault injected: abort${share}` });
      return reply;
    };
    return {
      type: 'faultInjection',
      onRequest(ctx) {
        if (delay && hit(delay.percent)) {
          ctx.record({ filter: 'faultInjection', origin: cc.origin, decision: 'info', reason: `fault injected: ${delay.ms} ms delay` });
          return new Promise<Decision>((resolve) => setTimeout(() => resolve(aborted(ctx)), delay.ms));
        }
        return aborted(ctx);
      },
    };
  },
};
