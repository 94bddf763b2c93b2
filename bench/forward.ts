// The minimal honest forwarder the gateway is measured against: one undici Pool
// with keep-alive to the upstream, request headers copied once minus the
// hop-by-hop ones, the response streamed straight into the client response
// (undici's stream() writes into `res` without an intermediate Readable).
// Nothing else: no routing, no policies, no logging, no x-forwarded-*.
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { Pool, type Dispatcher } from 'undici';

// RFC 9110 §7.6.1 connection-specific fields, plus Expect (node's server has
// already answered 100-continue; undici refuses to send it).
const HOP_BY_HOP = new Set([
  'connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade',
  'proxy-authenticate', 'proxy-authorization', 'expect',
]);

type Headers = Record<string, string | string[] | undefined>;

/** Copies end-to-end headers once: drops hop-by-hop ones and those the Connection header names. */
export function endToEnd(src: Headers | IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  const connection = src.connection;
  const listed = typeof connection === 'string' && connection !== 'keep-alive' && connection !== 'close'
    ? new Set(connection.toLowerCase().split(',').map((s) => s.trim()))
    : undefined;
  for (const name in src) {
    const value = src[name];
    if (value === undefined || HOP_BY_HOP.has(name) || listed?.has(name)) continue;
    out[name] = value;
  }
  return out;
}

function hasBody(req: IncomingMessage): boolean {
  const cl = req.headers['content-length'];
  if (cl !== undefined) return cl !== '0';
  return req.headers['transfer-encoding'] !== undefined;
}

const BAD_GATEWAY = Buffer.from('bad gateway\n');

function intoResponse({ statusCode, headers, opaque }: Dispatcher.StreamFactoryData<unknown>): ServerResponse {
  const res = opaque as ServerResponse;
  res.writeHead(statusCode, endToEnd(headers as Headers));
  return res;
}

function finished(err: Error | null, { opaque }: { opaque: unknown }): void {
  if (!err) return;
  const res = opaque as ServerResponse;
  if (res.headersSent || res.destroyed) res.destroy();
  else res.writeHead(502, { 'content-type': 'text/plain', 'content-length': BAD_GATEWAY.length }).end(BAD_GATEWAY);
}

export interface Forwarder {
  handle(req: IncomingMessage, res: ServerResponse): void;
  close(): Promise<void>;
}

/** A request handler forwarding everything to `origin` (e.g. "http://127.0.0.1:8080"). */
export function createForwarder(origin: string): Forwarder {
  // Same pool shape as the gateway's upstream pools, so the comparison is of the proxying, not of pool sizes.
  const pool = new Pool(origin, { connections: 128, keepAliveTimeout: 60_000 });
  return {
    handle(req, res) {
      pool.stream(
        {
          path: req.url ?? '/',
          method: req.method as Dispatcher.HttpMethod,
          headers: endToEnd(req.headers),
          body: hasBody(req) ? req : null,
          opaque: res,
        },
        intoResponse,
        finished,
      );
    },
    close: () => pool.close(),
  };
}
