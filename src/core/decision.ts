// What a request handler may decide: go on, or answer instead of the backend.
// The bottom layer: filters, authorizers and the data plane all speak it.
import type { RequestContext } from './request.ts';

/** What a filter (or the gateway itself) answers instead of letting the request go on. */
export interface Reply {
  status: number;
  headers?: Record<string, string | string[]>;
  body?: string;
  /**
   * Close the connection without an answer, as a refused TLS handshake would
   * (Istio STRICT mTLS against a peer without a verified certificate). The
   * status is what the access log and metrics record.
   */
  reset?: boolean;
}

/** undefined = continue to the next filter. A Promise only when I/O is really needed. */
export type Decision = Reply | undefined;

export type RequestHandler = (ctx: RequestContext) => Decision | Promise<Decision>;

/** Runs on the response head going to the client (proxied or replied by a filter). */
export type ResponseHandler = (ctx: RequestContext, status: number, headers: Record<string, string | string[] | number | undefined>) => void;
