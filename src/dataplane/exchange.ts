// One request's exchange with an upstream replica: the undici dispatch handler
// at the end of the backend's decorator chain (src/upstream/decorators.ts),
// which streams the answer into the client's response.
//
// Why not undici's stream(): it wraps every request in an AsyncResource and
// hooks four listeners on the client response (close, error, finish, drain).
// Here there is one 'close' listener, which both cuts the upstream request
// when the client goes away first (as Envoy resets the upstream stream) and
// accounts for the request; 'drain' is hooked only when a slow client pushes
// back; a route timeout aborts through the controller, no AbortController.
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
import type { RequestContext } from '../core/request.ts';
import type { CompiledBackend } from './compile.ts';
import { CLIENT_CLOSED, type Observer } from './observe.ts';
import { copyEndToEnd } from './headers.ts';
import { finishHeaders, grpcTrailers, type OutHeaders, type Res } from './respond.ts';
import { applyHeaderModifier } from '../filters/header-modifier.ts';
import { upstreamServiceTime } from './envoy-headers.ts';
import { withRawCase } from './header-case.ts';
import { gatewayReply } from '../core/replies.ts';
import { UpstreamRefused, type UpstreamAttempt } from '../upstream/decorators.ts';
import type { Member } from '../upstream/cluster.ts';

const BAD_GATEWAY = gatewayReply('badGateway');
const GATEWAY_TIMEOUT = gatewayReply('gatewayTimeout');
const TOO_LARGE = gatewayReply('payloadTooLarge');

/** A streamed request body went over the limit (see limitBody in proxy.ts). */
export class BodyTooLarge extends Error {}

/** The route's `timeouts.request` elapsed. */
export class RouteTimeout extends Error {
  constructor() {
    super('route timeout');
  }
}

/** The backend's answer was replaced by a responseOverride: the rest of it is not wanted. */
const OVERRIDDEN = new Error('answer replaced by responseOverride');

class ClientGone extends Error {
  constructor() {
    super('client closed the connection');
  }
}

/** The balancer's header on the answer: a cookie is added to the backend's own, anything else set. */
function addSticky(out: OutHeaders, name: string, value: string): void {
  if (name !== 'set-cookie') {
    out[name] = value;
    return;
  }
  const had = out['set-cookie'];
  out['set-cookie'] = had === undefined ? value : Array.isArray(had) ? [...had, value] : [String(had), value];
}

export class UpstreamExchange implements Dispatcher.DispatchHandler, UpstreamAttempt {
  private ctx: RequestContext;
  private res: Res;
  private obs: Observer;
  /** The backend picked by the traffic split: its cluster, response hooks and header modifier. */
  private backend: CompiledBackend;
  /** The replica of the latest attempt (set by the terminal dispatch), for the access log. */
  member: Member | undefined = undefined;
  counted: Member | undefined = undefined;
  stickyName: string | undefined = undefined;
  stickyValue = '';
  /** performance.now() when the request went upstream, when the listener adds x-envoy-upstream-service-time (enableEnvoyHeaders); 0: not wanted. */
  sentAt = 0;
  /** An HTTP/1 client on a listener whose ClientTrafficPolicy does not enableTrailers: the upstream's trailers are dropped (as Envoy). */
  dropTrailers = false;
  /** An HTTP/1 client on a listener with http1.preserveHeaderCase: the upstream's header names are written in its case. */
  preserveCase = false;
  private controller: Dispatcher.DispatchController | null = null;
  private status = 0;
  /** The upstream side is over: answered in full, failed, or cut. */
  private upstreamDone = false;
  /** Access log and metrics written (exactly once). */
  private accounted = false;
  private failure: Error | null = null;
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  /** The status of a gRPC Trailers-Only answer, sent as trailers at the end. */
  private grpcStatus: Record<string, string> | undefined = undefined;

  constructor(ctx: RequestContext, res: Res, obs: Observer, backend: CompiledBackend, timeoutMs: number) {
    this.ctx = ctx;
    this.res = res;
    this.obs = obs;
    this.backend = backend;
    // on, not once: the response closes once; once() would wrap the listener per request.
    res.on('close', this.onClientClose);
    if (timeoutMs > 0) this.timer = setTimeout(this.onTimeout, timeoutMs);
  }

  onRequestStart(controller: Dispatcher.DispatchController): void {
    this.controller = controller;
    // Cut while it waited in the pool's queue.
    if (this.failure) controller.abort(this.failure);
  }

  onResponseStart(controller: Dispatcher.DispatchController, statusCode: number, headers: Record<string, string | string[] | undefined>): void {
    if (statusCode < 200) return; // 1xx: the final answer follows
    const res = this.res;
    // writableEnded: the gateway answered meanwhile (requestReceivedTimeout's 408, connection-bounds.ts).
    if (res.destroyed || res.writableEnded || this.failure) {
      controller.abort(this.failure ?? new ClientGone());
      return;
    }
    const rule = this.ctx.route?.overrides?.match(statusCode);
    if (rule !== undefined) {
      if (rule.body !== undefined) return this.override(controller, statusCode, headers);
      if (rule.statusCode !== undefined) statusCode = rule.statusCode; // the status alone changes: the answer streams on
    }
    this.status = statusCode;
    const conn = headers.connection;
    const out: OutHeaders = copyEndToEnd(headers, typeof conn === 'string' ? conn : undefined);
    const b = this.backend;
    if (this.stickyName !== undefined) addSticky(out, this.stickyName, this.stickyValue);
    if (b.responseHeaders) applyHeaderModifier(b.responseHeaders, out);
    if (this.sentAt !== 0) out['x-envoy-upstream-service-time'] = upstreamServiceTime(this.sentAt, performance.now());
    finishHeaders(this.ctx, statusCode, out, b.chains);
    // A gRPC Trailers-Only answer (status in the only header block): relayed as headers, then its status as trailers
    // (kept in the headers for a client that gets no trailers).
    if (out['grpc-status'] !== undefined && !this.dropTrailers) this.grpcStatus = grpcTrailers(out);
    const raw = this.preserveCase ? controller.rawHeaders : undefined;
    (res as ServerResponse).writeHead(statusCode, (Array.isArray(raw) ? withRawCase(out, raw) : out) as Record<string, string>);
  }

  onResponseData(controller: Dispatcher.DispatchController, chunk: Buffer): void {
    const res = this.res;
    if (res.destroyed) {
      controller.abort(new ClientGone());
      return;
    }
    if (!(res as ServerResponse).write(chunk)) {
      controller.pause();
      if (!this.draining) {
        this.draining = true;
        res.on('drain', () => this.controller?.resume());
      }
    }
  }

  /**
   * responseOverride with a body: the backend's answer is replaced by the
   * rule's (sendReply applies it, as to the gateway's own replies) and the
   * rest of the backend's answer is not read.
   */
  private override(controller: Dispatcher.DispatchController, status: number, headers: Record<string, string | string[] | undefined>): void {
    this.upstreamDone = true;
    this.accounted = true;
    this.release();
    this.clearTimer();
    controller.abort(OVERRIDDEN);
    const ct = headers['content-type'];
    const out: Record<string, string | string[]> = { 'content-type': typeof ct === 'string' ? ct : 'text/plain' };
    if (this.stickyName !== undefined) out[this.stickyName] = this.stickyValue;
    this.obs.reply(this.res, this.ctx, { status, headers: out }, this.backend.chains, this.member?.address);
  }

  /** The request no longer counts against its replica's in-flight requests (LeastRequest). */
  private release(): void {
    const m = this.counted;
    if (m !== undefined) {
      m.active--;
      this.counted = undefined;
    }
  }

  onResponseEnd(_controller: Dispatcher.DispatchController, trailers: IncomingHttpHeaders | undefined): void {
    this.release();
    this.upstreamDone = true;
    this.clearTimer();
    if (this.res.destroyed) return;
    // gRPC's status travels in trailers (grpc-status, grpc-message): relayed as they came.
    if (this.grpcStatus !== undefined) this.res.addTrailers(this.grpcStatus);
    else if (!this.dropTrailers && trailers !== undefined && hasAny(trailers)) this.res.addTrailers(trailers as Record<string, string>);
    this.res.end();
  }

  onResponseError(_controller: Dispatcher.DispatchController, err: Error): void {
    this.release();
    this.upstreamDone = true;
    this.clearTimer();
    this.fail(this.failure ?? err);
  }

  /** Answer for a failed exchange, or cut the answer when it had started. */
  private fail(err: Error): void {
    const res = this.res;
    if (this.accounted) return;
    if (err instanceof ClientGone) return; // the close listener accounts for it
    if (res.headersSent || res.destroyed) {
      // The answer had started: all we can do is cut it, as any proxy would (the close listener accounts).
      res.destroy();
      return;
    }
    this.accounted = true;
    const address = this.member?.address;
    if (err instanceof UpstreamRefused) {
      this.obs.upstreamError(this.backend.cluster!.id, err.kind);
      this.obs.reply(res, this.ctx, err.reply, this.backend.chains, address);
      return;
    }
    if (err instanceof BodyTooLarge || (err as { cause?: unknown }).cause instanceof BodyTooLarge) {
      this.obs.reply(res, this.ctx, TOO_LARGE, this.backend.chains, address);
      return;
    }
    // A request undici refuses to send is the gateway's bug, never the backend's failure.
    const code = (err as { code?: string }).code;
    if (code === 'UND_ERR_INVALID_ARG' || code === 'UND_ERR_NOT_SUPPORTED') {
      this.obs.internalError(this.ctx, res, err);
      return;
    }
    const timeout = err instanceof RouteTimeout || code === 'UND_ERR_HEADERS_TIMEOUT';
    this.obs.upstreamError(this.backend.cluster!.id, timeout ? 'timeout' : 'connect');
    this.obs.reply(res, this.ctx, timeout ? GATEWAY_TIMEOUT : BAD_GATEWAY, this.backend.chains, address);
  }

  private onTimeout = (): void => {
    this.timer = undefined;
    if (this.upstreamDone) return;
    this.failure = new RouteTimeout();
    if (this.controller) this.controller.abort(this.failure);
    else this.fail(this.failure); // still queued: answer now, abort when it is dispatched
  };

  private onClientClose = (): void => {
    this.release();
    if (!this.upstreamDone) {
      this.failure ??= new ClientGone();
      this.controller?.abort(this.failure);
      this.clearTimer();
    }
    if (this.accounted) return;
    this.accounted = true;
    const res = this.res;
    this.obs.done(this.ctx, res.writableFinished ? this.status : this.status || CLIENT_CLOSED, this.member?.address);
  };

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }
}

function hasAny(o: object): boolean {
  for (const _ in o) return true;
  return false;
}
