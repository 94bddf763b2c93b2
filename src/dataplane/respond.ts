// Answers the gateway gives itself: filter replies, errors, redirects and
// direct responses. Each runs the route's response hooks, like a proxied answer.
import type { ServerResponse } from 'node:http';
import type { Http2ServerResponse } from 'node:http2';
import type { Reply } from '../filters/types.ts';
import type { RequestContext } from '../core/request.ts';
import type { Chain } from './compile.ts';
import type { IRRedirectAction } from '../ir/types.ts';
import { asGrpcReply, isGrpcContentType } from '../core/replies.ts';
import { applyHeaderModifier } from '../filters/header-modifier.ts';

export type Res = ServerResponse | Http2ServerResponse;
export type OutHeaders = Record<string, string | string[] | number | undefined>;

export function sendReply(res: Res, ctx: RequestContext | undefined, reply: Reply, chains: readonly Chain[]): void {
  if (res.headersSent || res.destroyed || reply.reset) {
    res.destroy();
    if (reply.reset) res.socket?.destroy();
    return;
  }
  const overrides = ctx?.route?.overrides;
  if (overrides !== undefined) reply = overrides.apply(reply);
  // A gRPC client is answered in gRPC (core/replies.ts), whichever filter or failure answered.
  if (isGrpcContentType((ctx?.headers ?? res.req.headers)['content-type'])) {
    reply = asGrpcReply(reply);
    if (reply.body === undefined) return sendTrailersOnly(res, ctx, reply, chains);
  }
  const body = reply.body ?? '';
  const headers: OutHeaders = { 'content-type': 'text/plain; charset=utf-8', ...reply.headers };
  if (ctx) finishHeaders(ctx, reply.status, headers, chains);
  headers['content-length'] = Buffer.byteLength(body);
  (res as ServerResponse).writeHead(reply.status, headers as Record<string, string>);
  if (ctx?.method === 'HEAD') res.end();
  else (res as ServerResponse).end(body);
}

/**
 * A gRPC answer without messages: the headers, then grpc-status and
 * grpc-message as trailers — through Node's compatibility API a Trailers-Only
 * block would not end the stream, and gRPC clients read the status only there.
 */
function sendTrailersOnly(res: Res, ctx: RequestContext | undefined, reply: Reply, chains: readonly Chain[]): void {
  const headers: OutHeaders = { ...reply.headers };
  if (ctx) finishHeaders(ctx, reply.status, headers, chains);
  const trailers = grpcTrailers(headers);
  (res as ServerResponse).writeHead(reply.status, headers as Record<string, string>);
  if (trailers) res.addTrailers(trailers);
  res.end();
}

const GRPC_TRAILERS = ['grpc-status', 'grpc-message', 'grpc-status-details-bin'];

/** Moves gRPC's status fields out of a header block, to be sent as trailers (undefined: none there). */
export function grpcTrailers(headers: OutHeaders): Record<string, string> | undefined {
  let out: Record<string, string> | undefined;
  for (const name of GRPC_TRAILERS) {
    const v = headers[name];
    if (v === undefined) continue;
    (out ??= {})[name] = String(v);
    delete headers[name];
  }
  return out;
}

/** Response-side work shared by every answer: filter hooks and filter-added headers. */
export function finishHeaders(ctx: RequestContext, status: number, headers: OutHeaders, chains: readonly Chain[]): void {
  for (let c = 0; c < chains.length; c++) {
    const hooks = chains[c].response;
    for (let i = 0; i < hooks.length; i++) hooks[i](ctx, status, headers);
  }
  const extra = ctx.responseHeaders;
  if (extra) {
    for (const name in extra) {
      const prev = headers[name];
      const v = extra[name];
      if (prev === undefined) headers[name] = v;
      else headers[name] = ([] as string[]).concat(prev as string | string[], v);
    }
  }
  if (ctx.lateHeaders !== undefined) applyHeaderModifier(ctx.lateHeaders, headers);
}

const WELL_KNOWN: Record<string, number> = { http: 80, https: 443 };

/** Gateway API RequestRedirect: Location from the request and the filter's fields. */
export function redirectLocation(ctx: RequestContext, r: IRRedirectAction, matchedPrefix: string | undefined): string {
  const scheme = r.scheme ?? ctx.scheme;
  const host = r.hostname ?? ctx.host;
  // Port: the filter's, else the listener's when the scheme is unchanged, else the new scheme's default.
  let port: number | undefined = r.port;
  if (port === undefined) port = r.scheme && r.scheme !== ctx.scheme ? undefined : ctx.port;
  const portPart = port === undefined || WELL_KNOWN[scheme] === port ? '' : `:${port}`;
  let path = ctx.path;
  if (r.path) path = replacePath(ctx.path, r.path, matchedPrefix);
  const hostPart = host.includes(':') ? `[${host}]` : host;
  return `${scheme}://${hostPart}${portPart}${path}${ctx.query ? '?' + ctx.query : ''}`;
}

/** ReplaceFullPath / ReplacePrefixMatch, as the Gateway API conformance tests expect. */
export function replacePath(path: string, mod: { type: 'ReplaceFullPath' | 'ReplacePrefixMatch'; value: string }, matchedPrefix: string | undefined): string {
  if (mod.type === 'ReplaceFullPath') return mod.value;
  const prefix = (matchedPrefix ?? '/').replace(/\/$/, '');
  let rest = path.slice(prefix.length);
  const repl = mod.value;
  if (repl.endsWith('/') && rest.startsWith('/')) rest = rest.slice(1);
  const out = repl + rest;
  return out === '' ? '/' : out.startsWith('/') ? out : '/' + out;
}
