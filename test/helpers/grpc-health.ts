// A real gRPC server (grpc-js) implementing the standard health service
// (grpc.health.v1.Health/Check) next to a demo method that says which replica
// answered. Each service's serving status is set by the test
// (`replica.status.set(service, 'NOT_SERVING')`); an unknown service is
// NOT_FOUND, as the reference implementation answers. Clear text (h2c) unless
// a certificate is given.
import * as grpc from '@grpc/grpc-js';

const raw = (b: Buffer) => b;
export const HELLO: grpc.MethodDefinition<Buffer, Buffer> = {
  path: '/demo.v1.Greeter/Hello', requestStream: false, responseStream: false,
  requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw,
};
const CHECK: grpc.MethodDefinition<Buffer, Buffer> = { ...HELLO, path: '/grpc.health.v1.Health/Check' };

const CODES = { UNKNOWN: 0, SERVING: 1, NOT_SERVING: 2 } as const;
export type ServingStatus = keyof typeof CODES;

export interface GrpcReplica {
  server: grpc.Server;
  port: number;
  /** Serving status per service name ('' = the server as a whole). */
  status: Map<string, ServingStatus>;
  /** Health checks received, by service name. */
  checks: string[];
  close(): void;
}

/** The service name of a HealthCheckRequest (field 1, short names). */
function serviceOf(req: Buffer): string {
  return req.length >= 2 && req[0] === 0x0a ? req.subarray(2, 2 + req[1]).toString() : '';
}

export async function startGrpcReplica(name: string, tls?: { certPem: string; keyPem: string }): Promise<GrpcReplica> {
  const server = new grpc.Server();
  const status = new Map<string, ServingStatus>([['', 'SERVING']]);
  const checks: string[] = [];
  server.addService({ Hello: HELLO } as unknown as grpc.ServiceDefinition, {
    Hello: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(`${name}:${call.request.toString()}`)),
  });
  server.addService({ Check: CHECK } as unknown as grpc.ServiceDefinition, {
    Check: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const service = serviceOf(call.request);
      checks.push(service);
      const s = status.get(service);
      if (s === undefined) return cb({ code: grpc.status.NOT_FOUND, details: `unknown service ${service}` });
      cb(null, CODES[s] === 0 ? Buffer.alloc(0) : Buffer.from([0x08, CODES[s]]));
    },
  });
  const creds = tls ? grpc.ServerCredentials.createSsl(null, [{ cert_chain: Buffer.from(tls.certPem), private_key: Buffer.from(tls.keyPem) }]) : grpc.ServerCredentials.createInsecure();
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', creds, (err, p) => (err ? reject(err) : resolve(p))));
  return { server, port, status, checks, close: () => server.forceShutdown() };
}

/** A grpc-js client to the gateway's TLS listener, trusting `caPem`, naming `host` in SNI and :authority. */
export function gatewayTlsClient(port: number, caPem: string, host: string): grpc.Client {
  return new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createSsl(Buffer.from(caPem)), {
    'grpc.ssl_target_name_override': host,
    'grpc.default_authority': host,
  });
}
