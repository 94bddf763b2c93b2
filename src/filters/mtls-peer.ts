// Istio STRICT mTLS enforced per request, where the socket itself cannot
// require a client certificate: a plaintext listener, or an HTTPS port shared
// with Gateways that are not STRICT. The connection is reset, as Istio's
// refused handshake would.
import type { CompiledFilter, FilterModuleFor } from './types.ts';
import { gatewayReply } from '../core/replies.ts';

export type { MtlsPeerConfig } from '../ir/filters.ts';

export const mtlsPeer: FilterModuleFor<'mtlsPeer'> = {
  type: 'mtlsPeer',
  compile(config, cc): CompiledFilter {
    const reset = gatewayReply('connectionReset');
    return {
      type: 'mtlsPeer',
      onRequest(ctx) {
        if (ctx.tls?.peerVerified) return undefined;
        ctx.record({ filter: 'mtlsPeer', origin: cc.origin, decision: 'deny', reason: `STRICT mTLS (${config.reason}): no verified client certificate; connection reset` });
        return reset;
      },
    };
  },
};
