// healthCheck.active type GRPC: the standard gRPC health protocol
// (grpc.health.v1.Health/Check) over HTTP/2 — prior knowledge (h2c) in clear
// text, ALPN h2 over TLS, as the backend is spoken to. A replica is healthy
// when the call ends with grpc-status 0 and the answer says SERVING, as in
// Envoy's gRPC health checker; `grpc.service` (Envoy Gateway's field) names
// the service asked about, the empty name (the server as a whole) otherwise.
//
// The two messages are tiny and fixed, so they are encoded and decoded here
// (protobuf wire format) rather than through a protobuf library:
//   HealthCheckRequest  { string service = 1; }
//   HealthCheckResponse { ServingStatus status = 1; }  SERVING = 1
import http2 from 'node:http2';
import type { IRBackend, IREndpoint } from '../ir/types.ts';

const PATH = '/grpc.health.v1.Health/Check';
const SERVING = 1;
/** An answer bigger than this is not a HealthCheckResponse. */
const MAX_ANSWER = 1024;

/** The gRPC message of a HealthCheckRequest for `service`: a 5-byte frame header, then the protobuf. */
export function healthCheckRequest(service: string): Buffer {
  const name = Buffer.from(service, 'utf8');
  const field = name.length === 0 ? Buffer.alloc(0) : Buffer.concat([Buffer.from([0x0a]), varint(name.length), name]);
  const frame = Buffer.alloc(5);
  frame.writeUInt32BE(field.length, 1);
  return Buffer.concat([frame, field]);
}

function varint(n: number): Buffer {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return Buffer.from(out);
}

/** ServingStatus of a gRPC-framed HealthCheckResponse; undefined when the bytes are not one. */
export function servingStatus(body: Buffer): number | undefined {
  if (body.length < 5 || body[0] !== 0) return undefined; // compressed answers are not asked for
  const len = body.readUInt32BE(1);
  if (body.length !== 5 + len) return undefined;
  let status = 0; // proto3: a field left out is its zero value (UNKNOWN)
  let i = 5;
  while (i < body.length) {
    const key = readVarint(body, i);
    if (!key) return undefined;
    i = key.next;
    const wire = key.value & 7;
    if (wire === 0) {
      const v = readVarint(body, i);
      if (!v) return undefined;
      i = v.next;
      if (key.value >>> 3 === 1) status = v.value;
    } else if (wire === 2) {
      const l = readVarint(body, i);
      if (!l || l.next + l.value > body.length) return undefined;
      i = l.next + l.value;
    } else return undefined;
  }
  return status;
}

function readVarint(b: Buffer, at: number): { value: number; next: number } | undefined {
  let value = 0;
  for (let i = at, shift = 0; i < b.length && shift < 35; i++, shift += 7) {
    value += (b[i] & 0x7f) * 2 ** shift;
    if ((b[i] & 0x80) === 0) return { value, next: i + 1 };
  }
  return undefined;
}

/**
 * One Check call; `done(true)` when the replica is SERVING. Returns what the
 * verdict destroys when it is reached (the session, so no connection outlives
 * its probe).
 */
export function grpcProbe(service: string, backend: IRBackend, ep: IREndpoint, done: (ok: boolean) => void): { destroy(): void } {
  const host = ep.host.includes(':') ? `[${ep.host}]` : ep.host;
  const tls = backend.tls;
  const session = http2.connect(`${tls ? 'https' : 'http'}://${host}:${ep.port}`, tls
    ? { servername: tls.sni, rejectUnauthorized: !tls.insecureSkipVerify, ca: tls.caPem, ALPNProtocols: ['h2'] }
    : {});
  session.on('error', () => done(false));
  const stream = session.request({
    ':method': 'POST',
    ':path': PATH,
    ':authority': tls?.sni ?? `${host}:${ep.port}`,
    'content-type': 'application/grpc',
    te: 'trailers',
    'user-agent': 'portcullis-health-check',
  });
  const chunks: Buffer[] = [];
  let bytes = 0;
  let httpOk = false;
  let grpcStatus: string | undefined;
  stream.on('response', (headers) => {
    httpOk = headers[':status'] === 200;
    // A trailers-only answer (an error) carries grpc-status in the headers.
    if (headers['grpc-status'] !== undefined) grpcStatus = String(headers['grpc-status']);
    if (!httpOk) done(false);
  });
  stream.on('data', (c: Buffer) => {
    bytes += c.length;
    if (bytes > MAX_ANSWER) return done(false);
    chunks.push(c);
  });
  stream.on('trailers', (trailers) => {
    if (trailers['grpc-status'] !== undefined) grpcStatus = String(trailers['grpc-status']);
  });
  stream.on('end', () => done(httpOk && grpcStatus === '0' && servingStatus(Buffer.concat(chunks, bytes)) === SERVING));
  stream.on('error', () => done(false));
  stream.end(healthCheckRequest(service));
  return session;
}
