// SecurityPolicy extAuth: Envoy's ext_authz against an HTTP or gRPC
// (envoy.service.auth.v3) authorization service, through the clients in
// src/authz/ext-authz that Istio's CUSTOM action uses too. Allowed: the
// service's headersToBackend are set on the upstream request. Denied: its
// answer (status, headers, body) is relayed. Unreachable, timed out or broken:
// failOpen lets the request through, otherwise the answer is statusOnError.
// With bodyToExtAuth the body read before the decision goes with the check.
import type { CompiledFilter, FilterModuleFor } from './types.ts';
import { applyExtAuthzResult, createExtAuthzClient } from '../authz/ext-authz/client.ts';


/** The check let the request through (failOpen on an error included): the chain went on. */
const allowed = (): boolean => true;

export const egExtAuth: FilterModuleFor<'extAuth'> = {
  type: 'extAuth',
  compile(config, cc): CompiledFilter {
    const svc = config.service;
    const client = createExtAuthzClient(svc);
    return {
      type: 'extAuth',
      async onRequest(ctx) {
        const result = await client.check(ctx);
        const decision = applyExtAuthzResult(ctx, svc, result);
        if (result.kind === 'deny') ctx.record({ filter: 'extAuth', origin: cc.origin, decision: 'deny', reason: `${svc.name} denied (${result.status})` });
        else if (result.kind === 'error') {
          ctx.record({ filter: 'extAuth', origin: cc.origin, decision: 'error', reason: `${svc.name}: ${result.reason}; ${svc.failOpen ? 'failOpen, continuing' : `answering ${svc.statusOnError}`}` });
        } else if (ctx.trace) ctx.record({ filter: 'extAuth', origin: cc.origin, decision: 'allow', reason: `${svc.name} allowed` });
        return decision;
      },
      close() {
        client.close();
      },
      // bodyToExtAuth: the chain reads the body (bounded) before the check.
      ...(svc.includeBody ? { needsBody: { maxBytes: svc.includeBody.maxBytes, allowPartial: svc.includeBody.allowPartial } } : {}),
      // recomputeRoute: the headers an allow set take part in choosing the route again.
      ...(config.recomputeRoute ? { recomputeRoute: allowed } : {}),
    };
  },
};
