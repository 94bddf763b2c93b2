// Stands where a policy that failed to translate would have run: its routes
// answer 500 rather than run unprotected (Envoy Gateway's behaviour).
import type { CompiledFilter, FilterModuleFor } from './types.ts';
import { gatewayReply } from '../core/replies.ts';

export type { FailClosedConfig } from '../ir/filters.ts';

export const failClosed: FilterModuleFor<'failClosed'> = {
  type: 'failClosed',
  compile(config, cc): CompiledFilter {
    const reply = gatewayReply('policyMisconfigured');
    return {
      type: 'failClosed',
      onRequest(ctx) {
        ctx.record({ filter: 'failClosed', origin: cc.origin, decision: 'deny', reason: config.reason });
        return reply;
      },
    };
  },
};
