// The servers a request-body-to-authorizer test stands up: a backend that
// answers with the hash and size of the body it got (so a test sees every byte
// arrived without keeping them), and an HTTP and a gRPC (envoy.service.auth.v3)
// external authorizer that decide on the body they were sent. What each check
// carried goes to the caller's hooks, since tests look at different fields.
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { request } from 'undici';
import { hashBody } from './upstream.ts';
import { EXTERNAL_AUTH_PROTO, PROTO_OPTIONS } from '../../src/authz/ext-authz/grpc-client.ts';

export interface BodyAuthorizers {
  backendPort: number;
  httpAuthzPort: number;
  grpcAuthzPort: number;
  close(): Promise<void>;
}

export interface CheckHooks {
  /** An HTTP check: the body it carried and its request (for headers and path). */
  http(body: Buffer, req: http.IncomingMessage): void;
  /** A gRPC check: the body, from raw_body ("grpc-bytes") when that is set, else from the UTF-8 body string ("grpc"). */
  grpc(via: 'grpc' | 'grpc-bytes', body: Buffer): void;
}

type GrpcHttp = { body?: string; raw_body?: Buffer };

export interface Answer {
  status: number;
  text: string;
}

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/** POST `body` to `url`; `chunked` sends it in two pieces with no content-length. */
export async function postBody(url: string, body: Buffer, chunked: boolean, headers: Record<string, string> = {}): Promise<Answer> {
  const r = await request(url, {
    method: 'POST',
    headers,
    body: chunked ? Readable.from([body.subarray(0, 3), body.subarray(3)]) : body,
  });
  return { status: r.statusCode, text: await r.body.text() };
}

/** The answer is the backend's (200) and it says the backend got every byte of `body`. */
export function assertBackendGot(r: Answer, body: Buffer, message = 'the backend got every byte of the body'): void {
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { hash: sha(body), bytes: body.length }, message);
}

/** The answer is an authorizer's deny, as the authorizers here word it. */
export function assertDenied(r: Answer): void {
  assert.equal(r.status, 403);
  assert.equal(r.text, 'body says no');
}

const listen = (s: http.Server) => new Promise<number>((r) => s.listen(0, '127.0.0.1', () => r((s.address() as AddressInfo).port)));

/** Both authorizers allow a body that starts with "allow", else deny with 403 "body says no". */
export async function startBodyAuthorizers(record: CheckHooks): Promise<BodyAuthorizers> {
  const backend = http.createServer((req, res) => {
    void hashBody(req).then((seen) => res.end(JSON.stringify(seen)));
  });
  const httpAuthz = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      record.http(body, req);
      if (body.toString('latin1').startsWith('allow')) res.writeHead(200).end();
      else res.writeHead(403, { 'content-type': 'text/plain' }).end('body says no');
    });
  });
  const [backendPort, httpAuthzPort] = await Promise.all([listen(backend), listen(httpAuthz)]);
  const pkg = grpc.loadPackageDefinition(protoLoader.loadSync(EXTERNAL_AUTH_PROTO, PROTO_OPTIONS)) as unknown as {
    envoy: { service: { auth: { v3: { Authorization: grpc.ServiceClientConstructor } } } };
  };
  const grpcAuthz = new grpc.Server();
  grpcAuthz.addService(pkg.envoy.service.auth.v3.Authorization.service, {
    Check(call: grpc.ServerUnaryCall<{ attributes: { request: { http: GrpcHttp } } }, unknown>, cb: grpc.sendUnaryData<unknown>) {
      const h = call.request.attributes.request.http;
      // proto3 cannot tell an empty raw_body from an absent one: empty means "not sent as bytes".
      const raw = h.raw_body !== undefined && h.raw_body.length > 0;
      const body = raw ? Buffer.from(h.raw_body!) : Buffer.from(h.body ?? '', 'utf8');
      record.grpc(raw ? 'grpc-bytes' : 'grpc', body);
      if (body.toString('latin1').startsWith('allow')) cb(null, { status: { code: 0 }, ok_response: {} });
      else cb(null, { status: { code: 7 }, denied_response: { status: { code: 403 }, body: 'body says no' } });
    },
  });
  const grpcAuthzPort = await new Promise<number>((resolve, reject) =>
    grpcAuthz.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  return {
    backendPort,
    httpAuthzPort,
    grpcAuthzPort,
    async close() {
      grpcAuthz.forceShutdown();
      for (const s of [backend, httpAuthz]) {
        s.closeAllConnections();
        await new Promise<void>((r) => s.close(() => r()));
      }
    },
  };
}
