// GRPCRoute end to end: real gRPC servers (h2c) behind the gateway's HTTPS
// listener, a real gRPC client. Method and header matching, streaming with
// trailers relayed, policies attached to a GRPCRoute, and the gateway's own
// answers in gRPC status codes.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { Agent, request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayDoc, httpsListener, tlsSecretYaml, backendYaml, beRef, routeYaml, policyYaml } from './helpers/yaml.ts';
import { makeCa, issueServerCert, type RootCa } from './helpers/certs.ts';
import { gatewayTlsClient } from './helpers/grpc-health.ts';

const HOST = 'grpc.example.com';
const ISS = 'https://issuer.example.com';
const raw = (b: Buffer) => b;

/** A method of the test services, bytes in and out (no protobuf needed to route gRPC). */
function method(path: string, responseStream = false): grpc.MethodDefinition<Buffer, Buffer> {
  return { path, requestStream: false, responseStream, requestSerialize: raw, requestDeserialize: raw, responseSerialize: raw, responseDeserialize: raw };
}

const ECHO = method('/demo.v1.Greeter/Echo');
const COUNT = method('/demo.v1.Greeter/Count', true);
const RESET = method('/demo.v1.Admin/Reset');
const SECURE = method('/demo.v1.Secure/Get');
const LIMITED = method('/demo.v1.Limited/Get');
const BROKEN = method('/demo.v1.Broken/Get');
const NOPE = method('/demo.v1.Nope/Get');

interface Replica { server: grpc.Server; port: number; calls: string[] }

/** A gRPC server on h2c that says which replica answered, in the reply and in trailing metadata. */
async function startReplica(name: string): Promise<Replica> {
  const server = new grpc.Server();
  const calls: string[] = [];
  const unary = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
    calls.push(call.getPath());
    const text = call.request.toString();
    const trailer = new grpc.Metadata();
    trailer.set('x-served-by', name);
    if (text === 'fail') return cb({ code: grpc.status.NOT_FOUND, details: `${name} has no such thing` });
    cb(null, Buffer.from(`${name}:${text}`), trailer);
  };
  server.addService({ Echo: ECHO, Reset: RESET, Get: SECURE } as unknown as grpc.ServiceDefinition, { Echo: unary, Reset: unary, Get: unary });
  server.addService({ Get: LIMITED } as unknown as grpc.ServiceDefinition, { Get: unary });
  server.addService({ Count: COUNT } as unknown as grpc.ServiceDefinition, {
    Count: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
      calls.push(call.getPath());
      for (let i = 1; i <= 3; i++) call.write(Buffer.from(`${name}:${i}`));
      const trailer = new grpc.Metadata();
      trailer.set('x-served-by', name);
      call.end(trailer);
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  return { server, port, calls };
}

let gw: TestGateway;
let ca: RootCa;
let v1: Replica;
let v2: Replica;
let client: grpc.Client;
let token: string;
let tlsPort: number;

before(async () => {
  ca = await makeCa();
  [v1, v2] = await Promise.all([startReplica('v1'), startReplica('v2')]);
  tlsPort = await freePort();
  const cert = await issueServerCert(ca, { hostnames: [HOST] });
  const pair = await generateKeyPair('RS256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }] });
  token = await new SignJWT({ sub: 'alice' }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setIssuer(ISS).setExpirationTime('1h').sign(pair.privateKey);
  const grpcRoute = (name: string, rules: string) => routeYaml(name, rules, { kind: 'GRPCRoute', hostnames: [HOST] });
  gw = await startGateway(gatewayDoc([httpsListener('https', tlsPort)]) + tlsSecretYaml('cert', cert) +
    backendYaml('v1', [v1.port]) + backendYaml('v2', [v2.port]) + backendYaml('gone', [await freePort()]) +
    grpcRoute('greeter', `- matches: [{ method: { service: demo.v1.Greeter, method: Echo }, headers: [{ name: x-version, value: v2 }] }]
  backendRefs: [${beRef('v2')}]
- matches: [{ method: { service: demo.v1.Greeter } }]
  backendRefs: [${beRef('v1')}]
- matches: [{ method: { type: RegularExpression, service: 'demo\\.v1\\.Adm[a-z]+', method: 'Re.*' } }]
  backendRefs: [${beRef('v2')}]
- matches: [{ method: { service: demo.v1.Broken } }]
  backendRefs: [${beRef('gone')}]`) +
    grpcRoute('secure', `- { matches: [{ method: { service: demo.v1.Secure } }], backendRefs: [${beRef('v1')}] }`) +
    grpcRoute('limited', `- { matches: [{ method: { service: demo.v1.Limited } }], backendRefs: [${beRef('v1')}] }`) +
    policyYaml('SecurityPolicy', 'jwt', 'GRPCRoute/secure', `jwt:
  providers:
    - name: example
      issuer: ${ISS}
      localJWKS: { type: Inline, inline: '${jwks}' }`) +
    policyYaml('BackendTrafficPolicy', 'limit', 'GRPCRoute/limited', `rateLimit:
  type: Local
  local:
    rules: [{ limit: { requests: 1, unit: Hour } }]`));
  client = gatewayTlsClient(tlsPort, ca.certPem, HOST);
});

after(async () => {
  client?.close();
  await gw?.close();
  for (const r of [v1, v2]) r?.server.forceShutdown();
});

interface Answer { code: number; details: string; reply?: string; trailers?: grpc.Metadata }

function call(m: grpc.MethodDefinition<Buffer, Buffer>, text: string, headers: Record<string, string> = {}): Promise<Answer> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve) => {
    let reply: string | undefined;
    // The status (with the trailing metadata) is the last thing a call reports.
    const c = client.makeUnaryRequest(m.path, raw, raw, Buffer.from(text), md, {}, (_err, r) => void (reply = r?.toString()));
    c.on('status', (s: grpc.StatusObject) => resolve({ code: s.code, details: s.details, reply, trailers: s.metadata }));
  });
}

test('service/method and header matches pick the rule; the reply and its trailers come back intact', async () => {
  const plain = await call(ECHO, 'hello');
  assert.equal(plain.code, 0);
  assert.match(plain.reply ?? '', /^v1:hello$/);
  assert.deepEqual(plain.trailers?.get('x-served-by'), ['v1']);
  const header = await call(ECHO, 'hello', { 'x-version': 'v2' });
  assert.equal(header.code, 0);
  assert.match(header.reply ?? '', /^v2:hello$/);
  const regex = await call(RESET, 'now');
  assert.match(regex.reply ?? '', /^v2:now$/, 'RegularExpression service and method');
});

test('a status the server sets travels in trailers through the gateway', async () => {
  const a = await call(ECHO, 'fail');
  assert.equal(a.code, grpc.status.NOT_FOUND);
  assert.equal(a.details, 'v1 has no such thing');
});

test('a server-streaming call streams every message, then the trailers', async () => {
  const stream = client.makeServerStreamRequest(COUNT.path, raw, raw, Buffer.from('go'), new grpc.Metadata(), {});
  const got: string[] = [];
  stream.on('data', (b: Buffer) => got.push(b.toString()));
  const status = await new Promise<grpc.StatusObject>((resolve) => stream.on('status', resolve));
  assert.equal(status.code, grpc.status.OK);
  assert.deepEqual(got, ['v1:1', 'v1:2', 'v1:3']);
  assert.deepEqual(status.metadata.get('x-served-by'), ['v1']);
});

test('the gateway\'s own answers are gRPC statuses: no route, JWT, rate limit, unreachable backend', async () => {
  const none = await call(NOPE, 'x');
  assert.equal(none.code, grpc.status.UNIMPLEMENTED, `no route: ${none.details}`);
  const anonymous = await call(SECURE, 'x');
  assert.equal(anonymous.code, grpc.status.UNAUTHENTICATED, `no token: ${anonymous.details}`);
  const bad = await call(SECURE, 'x', { authorization: 'Bearer not.a.token' });
  assert.equal(bad.code, grpc.status.UNAUTHENTICATED);
  const signedIn = await call(SECURE, 'x', { authorization: `Bearer ${token}` });
  assert.equal(signedIn.code, 0, signedIn.details);
  assert.match(signedIn.reply ?? '', /^v1:x$/);
  assert.equal((await call(LIMITED, 'one')).code, 0);
  const over = await call(LIMITED, 'two');
  assert.equal(over.code, grpc.status.RESOURCE_EXHAUSTED, `over the limit: ${over.details}`);
  const down = await call(BROKEN, 'x');
  assert.equal(down.code, grpc.status.UNAVAILABLE, `backend down: ${down.details}`);
});

test('a request that is not gRPC gets an HTTP answer; GRPCRoutes and the policies on them are Accepted in /config', async () => {
  const agent = new Agent({ connect: { ca: ca.certPem, servername: HOST } });
  try {
    const plain = await request(`https://127.0.0.1:${tlsPort}/demo.v1.Nope/Get`, { method: 'POST', headers: { host: HOST, 'content-type': 'application/json' }, body: '{}', dispatcher: agent });
    assert.equal(plain.statusCode, 404);
    assert.match(String(plain.headers['content-type']), /^text\/plain/);
    await plain.body.dump();
  } finally {
    await agent.close();
  }
  const res = await request(`${gw.adminUrl}/config`);
  const config = (await res.body.json()) as { status: { object: string; accepted: boolean; conditions: { type: string; status: string; message: string }[] }[] };
  for (const name of ['greeter', 'secure', 'limited']) {
    const s = config.status.find((x) => x.object === `GRPCRoute/default/${name}`);
    assert.ok(s, `status of GRPCRoute ${name}`);
    assert.equal(s.accepted, true, JSON.stringify(s));
  }
  const jwt = config.status.find((x) => x.object === 'SecurityPolicy/default/jwt');
  assert.equal(jwt?.accepted, true, JSON.stringify(jwt));
});
