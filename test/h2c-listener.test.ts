// HTTP/2 by prior knowledge (h2c) on a plain HTTP listener, next to HTTP/1.1
// on the same port, over real sockets: a grpc-js client with insecure
// credentials reaches a GRPCRoute, plain h2c requests reach an HTTPRoute,
// HTTP/1.1 keeps working, and the listener's bounds hold for h2c too (a
// preface that stalls, a session that never opens a stream, an idle session,
// a header block over the limit).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { backendYaml, beRef, prefixRule, routeYaml } from './helpers/yaml.ts';
import { closedWithin } from './helpers/sockets.ts';
import { startGrpcReplica, HELLO, type GrpcReplica } from './helpers/grpc-health.ts';
import { DEFAULT_CONNECTION, DEFAULT_LIMITS, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { sniff } from '../src/dataplane/h2c.ts';

const HEAD_MS = 800;
const IDLE_MS = 1200;
const SLACK_MS = 15_000;
const MAX_HEADER = 16 * 1024;

let gw: TestGateway;
let up: Upstream;
let greeter: GrpcReplica;
let port: number;
let client: grpc.Client;

before(async () => {
  [up, greeter, port] = await Promise.all([startUpstream('up'), startGrpcReplica('g1'), freePort()]);
  gw = await startGateway(`apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  listeners: [{ name: http, protocol: HTTP, port: ${port} }]
${backendYaml('up', [up.port])}${backendYaml('greeter', [greeter.port])}${routeYaml('greeter', `- matches: [{ method: { service: demo.v1.Greeter } }]
  backendRefs: [${beRef('greeter')}]`, { kind: 'GRPCRoute' })}${routeYaml('web', prefixRule('/web', 'up'))}`, { translate: { ...DEFAULT_TRANSLATE_OPTIONS, limits: { ...DEFAULT_LIMITS, maxHeaderBytes: MAX_HEADER }, connection: { ...DEFAULT_CONNECTION, requestHeadersTimeoutMs: HEAD_MS, idleTimeoutMs: IDLE_MS } } });
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

after(async () => {
  client?.close();
  await gw?.close();
  await up?.close();
  greeter?.close();
});

test('the preface decides: HTTP/1.1 at the first differing byte, HTTP/2 at the 24th', () => {
  assert.equal(sniff(Buffer.from('GET / HTTP/1.1\r\n')), 'h1');
  assert.equal(sniff(Buffer.from('P')), undefined);
  assert.equal(sniff(Buffer.from('POST /x HTTP/1.1\r\n')), 'h1', 'POST shares the P');
  assert.equal(sniff(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n')), undefined);
  assert.equal(sniff(Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0')), 'h2');
  assert.equal(sniff(Buffer.from('PRI * HTTP/1.1\r\n')), 'h1');
});

test('a clear-text gRPC client (insecure credentials, h2c) reaches a GRPCRoute on the HTTP listener', async () => {
  const reply = await new Promise<string>((resolve, reject) => {
    client.makeUnaryRequest(HELLO.path, (b: Buffer) => b, (b: Buffer) => b, Buffer.from('hi'), (err, r) => (err ? reject(err) : resolve(r!.toString())));
  });
  assert.equal(reply, 'g1:hi');
  const missing = await new Promise<grpc.ServiceError>((resolve) => {
    client.makeUnaryRequest('/demo.v1.Nope/Get', (b: Buffer) => b, (b: Buffer) => b, Buffer.from('x'), (err) => resolve(err!));
  });
  assert.equal(missing.code, grpc.status.UNIMPLEMENTED, "the gateway's own answer in a gRPC status");
});

test('HTTP/1.1 and h2c requests to an HTTPRoute on the same port', async () => {
  const h1 = await request(`http://127.0.0.1:${port}/web/one`, { method: 'POST', body: 'a body' });
  assert.equal(h1.statusCode, 200);
  const seen = (await h1.body.json()) as { url: string; body: string };
  assert.deepEqual([seen.url, seen.body], ['/web/one', 'a body']);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  try {
    const answers = await Promise.all(['/web/a', '/web/b', '/nothing'].map((path) => new Promise<[number, string]>((resolve, reject) => {
      const s = session.request({ ':path': path, ':method': 'POST' });
      let body = '';
      let status = 0;
      s.setEncoding('utf8');
      s.on('response', (h) => (status = Number(h[':status'])));
      s.on('data', (c: string) => (body += c));
      s.on('end', () => resolve([status, body]));
      s.on('error', reject);
      s.end('h2 body');
    })));
    assert.deepEqual(answers.map(([s]) => s), [200, 200, 404]);
    assert.equal(JSON.parse(answers[0][1]).body, 'h2 body');
    assert.equal(JSON.parse(answers[1][1]).url, '/web/b', 'streams multiplexed on one connection');
  } finally {
    session.close();
  }
});

test('a header block over the listener limit is refused on h2c; the session and the gateway carry on', async () => {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on('error', () => {});
  try {
    const big = await new Promise<string>((resolve) => {
      const s = session.request({ ':path': '/web/big', 'x-big': 'a'.repeat(MAX_HEADER * 2) });
      s.on('response', (h) => resolve(String(h[':status'])));
      s.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
      s.on('close', () => resolve(`closed ${s.rstCode}`));
      s.end();
    });
    assert.equal(big, '431', 'as on HTTP/1.1 and HTTPS');
  } finally {
    session.destroy();
  }
  assert.equal((await request(`http://127.0.0.1:${port}/web/after`)).statusCode, 200);
});


test('bounds hold for h2c: a stalled preface, a session without a stream, an idle session are closed', async () => {
  const connect = () => new Promise<net.Socket>((resolve) => {
    const s = net.connect(port, '127.0.0.1', () => resolve(s));
  });
  const partial = await connect();
  partial.write('PRI * HTTP/2.0\r\n');
  const stalled = closedWithin(partial, SLACK_MS, 'a half-sent preface');
  const bare = await connect();
  bare.write('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0');
  const noStream = closedWithin(bare, SLACK_MS, 'an h2c connection that never opens a stream');
  const [a, b] = await Promise.all([stalled, noStream]);
  assert.ok(a >= HEAD_MS * 0.8 && b >= HEAD_MS * 0.8, `closed by the head bound, not at once (${a}, ${b} ms)`);
  const session = http2.connect(`http://127.0.0.1:${port}`);
  const goaway = new Promise<void>((resolve) => session.once('goaway', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    const s = session.request({ ':path': '/web/once' });
    s.resume();
    s.on('end', () => resolve());
    s.on('error', reject);
  });
  const t0 = performance.now();
  await Promise.race([goaway, new Promise((_, reject) => setTimeout(() => reject(new Error('no GOAWAY for an idle h2c session')), SLACK_MS))]);
  assert.ok(performance.now() - t0 >= IDLE_MS * 0.5, 'idle, then GOAWAY');
  session.destroy();
});
