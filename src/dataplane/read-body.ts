// The request body read before the decision, for chains whose filters asked
// for it (CompiledFilter.needsBody): once per request, bounded, for decide()
// to put in ctx.body. Beyond the bound the request gets 413, unless every
// filter accepts a partial body: then they decide on the first maxBytes and
// the whole body still goes upstream (the rest is put back in the stream).
// Listeners without such a filter never build one: their bodies stream.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { BodyNeed, BufferedBody } from '../filters/types.ts';
import type { BodySource } from './decide.ts';
import type { Res } from './respond.ts';
import { sendContinue } from './expect.ts';
import { requestHasBody } from './body.ts';

type Req = IncomingMessage | Http2ServerRequest;

const EMPTY: BufferedBody = Object.freeze({ bytes: Buffer.alloc(0), partial: false }) as BufferedBody;

export class RequestBody implements BodySource {
  private req: Req;
  private res: Res;
  /** The listener's body limit (0 = none). */
  private limit: number;
  /** ClientTrafficPolicy connection.bufferLimit: most bytes held in memory for a filter (0 = the filter's own bound). */
  private bufferLimit: number;

  constructor(req: Req, res: Res, limit: number, bufferLimit = 0) {
    this.req = req;
    this.res = res;
    this.limit = limit;
    this.bufferLimit = bufferLimit;
  }

  read(need: BodyNeed): Promise<BufferedBody | undefined> {
    if (this.bufferLimit > 0 && this.bufferLimit < need.maxBytes) need = { maxBytes: this.bufferLimit, allowPartial: need.allowPartial };
    const req = this.req;
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) > need.maxBytes && !need.allowPartial) return Promise.resolve(undefined);
    if (!requestHasBody(req)) return Promise.resolve(EMPTY);
    sendContinue(req, this.res);
    const limit = this.limit;
    return new Promise((resolve) => {
      const chunks: Buffer[] = [];
      let seen = 0;
      const done = (): void => {
        req.off('data', onData);
        req.off('end', onEnd);
        req.off('error', onGone);
        req.off('close', onGone);
      };
      const onData = (chunk: Buffer): void => {
        if (seen + chunk.length <= need.maxBytes) {
          chunks.push(chunk);
          seen += chunk.length;
          if (limit > 0 && seen > limit) {
            done();
            resolve(undefined);
          }
          return;
        }
        done();
        if (!need.allowPartial) return resolve(undefined);
        // Decide on the first maxBytes; the rest goes back in front of the stream for upstream.
        req.pause();
        const keep = need.maxBytes - seen;
        chunks.push(chunk.subarray(0, keep));
        req.unshift(chunk.subarray(keep));
        resolve({ bytes: Buffer.concat(chunks, need.maxBytes), partial: true });
      };
      const onEnd = (): void => {
        done();
        resolve({ bytes: Buffer.concat(chunks, seen), partial: false });
      };
      // The client left: the handler sees the response destroyed and accounts for it.
      const onGone = (): void => {
        done();
        resolve(undefined);
      };
      req.on('data', onData);
      req.once('end', onEnd);
      req.once('error', onGone);
      req.once('close', onGone);
    });
  }
}
