// `Expect: 100-continue`, answered by the gateway itself as Envoy does: the
// expectation is never forwarded (undici refuses it, and a backend's 100 would
// reach the client after ours), and 100 Continue is sent only once the request
// is on its way upstream, so that an answer given without the body (413 on a
// declared Content-Length, 401/403 from a filter, a redirect) is given before
// the client sends it. Node then closes such a connection, since the unread
// body would otherwise be taken for the next request.
import type { IncomingMessage } from 'node:http';
import type { Http2ServerRequest } from 'node:http2';
import type { Res } from './respond.ts';

type Req = IncomingMessage | Http2ServerRequest;

/** Requests that arrived through 'checkContinue' and have not had their 100 yet. */
const awaiting = new WeakSet<Req>();

/** A 'checkContinue' listener that serves the request like any other, 100 deferred. */
export function deferContinue(onRequest: (req: Req, res: Res) => void): (req: Req, res: Res) => void {
  return (req, res) => {
    awaiting.add(req);
    onRequest(req, res);
  };
}

/** The body is about to be read: send the deferred 100 Continue, once. */
export function sendContinue(req: Req, res: Res): void {
  if (req.headers.expect !== undefined && awaiting.delete(req) && !res.headersSent && !res.destroyed) res.writeContinue();
}
