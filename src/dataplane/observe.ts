// What happens after an answer: the access log line, the metrics, and the
// debug log of the decision trace. Never blocks, never throws into a request.
import type { Logger } from 'pino';
import type { AccessLog } from '../log/access-log.ts';
import type { DataPlaneMetrics } from '../admin/request-metrics.ts';
import type { RequestContext } from '../core/request.ts';
import { sendReply, type Res } from './respond.ts';
import type { Reply } from '../core/decision.ts';
import { gatewayReply } from '../core/replies.ts';
import type { Chain } from './compile.ts';

/** nginx's status for a request whose client closed the connection first (Envoy logs the flag DC). */
export const CLIENT_CLOSED = 499;


export class Observer {
  private log: Logger;
  private access: AccessLog | undefined;
  private metrics: DataPlaneMetrics;
  private debug: boolean;

  constructor(log: Logger, access: AccessLog | undefined, metrics: DataPlaneMetrics) {
    this.log = log;
    this.access = access;
    this.metrics = metrics;
    this.debug = log.isLevelEnabled('debug');
  }

  /** Whether requests should record their full decision trace. */
  get tracing(): boolean {
    return this.debug;
  }

  done(ctx: RequestContext, status: number, upstream: string | undefined): void {
    const seconds = (performance.now() - ctx.startMs) / 1e3;
    const route = ctx.route?.label ?? '-';
    this.metrics.observeRequest(route, status, seconds);
    const dry = ctx.dryRun;
    if (dry !== undefined) for (const d of dry) this.metrics.dryRunDecisions.inc(d.policy, d.decision);
    this.access?.write({
      requestId: ctx.requestId,
      method: ctx.method,
      host: ctx.host,
      path: ctx.path,
      route,
      status,
      durationMs: Math.round(seconds * 1e6) / 1e3,
      upstream,
      client: ctx.clientIp,
      decision: ctx.trace && status >= 400 ? ctx.trace : null,
      dryRun: dry,
      ja3: ctx.tls?.ja3,
      ja4: ctx.tls?.ja4,
    });
    if (this.debug && ctx.trace) this.log.debug({ request_id: ctx.requestId, route, status, trace: ctx.trace }, 'decision trace');
  }

  /** Requests that never reached a route (404, 400, 413, 414). */
  early(method: string, path: string, status: number, startMs: number): void {
    const seconds = (performance.now() - startMs) / 1e3;
    this.metrics.observeRequest('-', status, seconds);
    this.access?.write({ requestId: '-', method, host: '-', path, route: '-', status, durationMs: Math.round(seconds * 1e6) / 1e3, upstream: undefined, client: '-', decision: null });
  }

  /** Requests node's parser refused before a request object existed (431 headers too large, 400). */
  refused(status: number, reason: string, client: string): void {
    this.metrics.observeRequest('-', status, 0);
    this.access?.write({ requestId: '-', method: '-', host: '-', path: '-', route: '-', status, durationMs: 0, upstream: undefined, client, decision: null, reason });
  }

  /** Answer with a gateway reply and account for it (access log, metrics). */
  reply(res: Res, ctx: RequestContext, reply: Reply, chains: readonly Chain[], upstream?: string): void {
    sendReply(res, ctx, reply, chains);
    this.done(ctx, reply.status, upstream);
  }

  upstreamError(backend: string, kind: string): void {
    this.metrics.upstreamErrors.inc(backend, kind);
  }

  logInternalError(ctx: RequestContext | undefined, err: unknown): void {
    this.log.error({ request_id: ctx?.requestId, route: ctx?.route?.label, err }, 'internal error while handling a request');
  }

  internalError(ctx: RequestContext, res: Res, err: unknown): void {
    // A bug must cost one request, never the process.
    this.logInternalError(ctx, err);
    ctx.record({ filter: 'gateway', decision: 'error', reason: 'internal error' });
    this.reply(res, ctx, gatewayReply('internalError'), []);
  }
}
