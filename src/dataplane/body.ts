// The request body on its way upstream: counted against the body limit when
// its length was not declared, and copied to the route's mirrors. A mirror
// never slows or blocks the primary request: each copy may queue at most
// MIRROR_QUEUE_BYTES that its backend has not taken yet; a mirror that falls
// further behind is dropped (its request cut) and counted, while the primary
// reads at its own pace.
import { PassThrough, Transform, type Readable } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Observer } from './observe.ts';
import { BodyTooLarge } from './exchange.ts';

type Req = IncomingMessage | Http2ServerRequest;

/** How far a mirror may lag behind the primary before it is dropped. */
export const MIRROR_QUEUE_BYTES = 256 * 1024;

/** A copy of the body for one mirror request. */
export interface MirrorSink {
  stream: PassThrough;
  /** Backend id, for the metric that counts a dropped mirror. */
  backend: string;
  /** Dropped for falling behind (counted once, not again as a failed mirror request). */
  dropped: boolean;
}

export function mirrorSink(backend: string): MirrorSink {
  const stream = new PassThrough();
  // undici destroys a body whose request failed; that failure is counted where the request is made.
  stream.on('error', () => {});
  return { stream, backend, dropped: false };
}

/**
 * The stream the primary request reads: the client's body (after `prefix`,
 * the part a filter read before the decision), limited to `limit` bytes
 * (0 = not counted here) and copied to `mirrors`.
 */
export function upstreamBody(req: Req, prefix: Buffer | undefined, limit: number, mirrors: MirrorSink[], obs: Observer): Readable {
  let seen = 0;
  const live = mirrors.slice();
  const drop = (m: MirrorSink, why: Error | undefined) => {
    live.splice(live.indexOf(m), 1);
    m.stream.destroy(why);
  };
  const body = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      seen += chunk.length;
      if (limit > 0 && seen > limit) {
        cb(new BodyTooLarge(`request body over ${limit} bytes`));
        return;
      }
      for (let i = live.length - 1; i >= 0; i--) {
        const m = live[i];
        if (m.stream.destroyed) live.splice(i, 1);
        else if (m.stream.writableLength + m.stream.readableLength > MIRROR_QUEUE_BYTES) {
          m.dropped = true;
          obs.upstreamError(m.backend, 'mirror_dropped');
          drop(m, new Error('mirror fell behind'));
        } else m.stream.write(chunk);
      }
      cb(null, chunk);
    },
    flush(cb) {
      for (const m of live) m.stream.end();
      cb();
    },
  });
  // The client went away, or the body failed (over the limit): the copies must not wait for an end.
  body.once('error', (err) => {
    for (const m of live.slice()) drop(m, err);
  });
  req.once('close', () => {
    if (!req.complete) body.destroy(new Error('client closed the request body'));
  });
  if (prefix) body.write(prefix);
  return req.pipe(body);
}

export function requestHasBody(req: Req): boolean {
  const h = req.headers;
  if ('stream' in req) return !req.stream.endAfterHeaders; // HTTP/2
  const cl = h['content-length'];
  if (cl !== undefined) return cl !== '0';
  return h['transfer-encoding'] !== undefined;
}
