// A stand-in for Istio's sample external authorizer (samples/extauthz), for the
// "External Authorization" example: an HTTP check server on :8000 and an Envoy
// ext_authz gRPC server on :9000 that allow a request carrying
// `x-ext-authz: allow` and deny every other one with 403 and the sample's body.
// Either way the answer carries `x-ext-authz-check-result: allowed|denied`.
// (Istio's sample also allows callers whose certificate names service account
// "a" when the header is absent; this one does not.)
//
//   npm run ext-authz-sample [-- --http 8000 --grpc 9000]   (an npm script: Node 26 from node_modules, whatever the machine's own)
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import * as grpc from '@grpc/grpc-js';
import { authorizationServiceDefinition } from '../../src/authz/ext-authz/grpc-client.ts';

export const CHECK_HEADER = 'x-ext-authz';
export const RESULT_HEADER = 'x-ext-authz-check-result';
export const DENY_BODY = 'denied by ext_authz for not found header `x-ext-authz: allow` in the request';

export interface Check {
  via: 'http' | 'grpc';
  allowed: boolean;
  /** The request headers the authorizer was given (lowercase names). */
  headers: Record<string, string>;
  /** The path it was asked about. */
  path: string;
}

export interface ExtAuthzSample {
  httpPort: number;
  grpcPort: number;
  /** Every check answered, oldest first. */
  checks: Check[];
  close(): Promise<void>;
}

interface CheckRequest {
  attributes?: { request?: { http?: { headers?: Record<string, string>; path?: string } } };
}

export async function startExtAuthzSample(opts: { host?: string; httpPort?: number; grpcPort?: number } = {}): Promise<ExtAuthzSample> {
  const host = opts.host ?? '127.0.0.1';
  const checks: Check[] = [];

  const httpServer = http.createServer((req, res) => {
    req.resume();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string') headers[k] = v;
    const allowed = req.headers[CHECK_HEADER] === 'allow';
    checks.push({ via: 'http', allowed, headers, path: req.url ?? '' });
    if (allowed) res.writeHead(200, { [RESULT_HEADER]: 'allowed' }).end();
    else res.writeHead(403, { [RESULT_HEADER]: 'denied', 'content-type': 'text/plain' }).end(DENY_BODY);
  });
  await new Promise<void>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(opts.httpPort ?? 8000, host, () => resolve());
  });

  const grpcServer = new grpc.Server();
  grpcServer.addService(authorizationServiceDefinition().service, {
    Check(call: grpc.ServerUnaryCall<CheckRequest, unknown>, done: grpc.sendUnaryData<unknown>) {
      const h = call.request.attributes?.request?.http;
      const headers = { ...h?.headers };
      const allowed = headers[CHECK_HEADER] === 'allow';
      checks.push({ via: 'grpc', allowed, headers, path: h?.path ?? '' });
      if (allowed) {
        done(null, { status: { code: grpc.status.OK }, ok_response: { headers: [{ header: { key: RESULT_HEADER, value: 'allowed' } }] } });
      } else {
        done(null, {
          status: { code: grpc.status.PERMISSION_DENIED },
          denied_response: { status: { code: 403 }, body: DENY_BODY, headers: [{ header: { key: RESULT_HEADER, value: 'denied' } }] },
        });
      }
    },
  });
  let grpcPort: number;
  try {
    grpcPort = await new Promise<number>((resolve, reject) =>
      grpcServer.bindAsync(`${host}:${opts.grpcPort ?? 9000}`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
    );
  } catch (e) {
    httpServer.close();
    throw e;
  }

  return {
    httpPort: (httpServer.address() as AddressInfo).port,
    grpcPort,
    checks,
    async close() {
      grpcServer.forceShutdown();
      httpServer.closeAllConnections();
      await new Promise<void>((r) => httpServer.close(() => r()));
    },
  };
}

if (import.meta.main) {
  const { values } = parseArgs({ options: { http: { type: 'string', default: '8000' }, grpc: { type: 'string', default: '9000' } } });
  const s = await startExtAuthzSample({ httpPort: Number(values.http), grpcPort: Number(values.grpc) });
  console.log(`ext_authz sample: HTTP on 127.0.0.1:${s.httpPort}, gRPC on 127.0.0.1:${s.grpcPort}`);
  const stop = () => void s.close().then(() => process.exit(0));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
