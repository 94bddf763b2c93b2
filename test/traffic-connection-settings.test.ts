// A route rule's own upstream connection settings over real sockets:
// circuitBreaker.maxRequestsPerConnection (a connection serves that many
// requests, then a new one is opened), timeout.tcp.connectTimeout (a replica
// that never completes the TLS handshake fails fast), and
// timeout.http.connectionIdleTimeout (an idle connection is closed).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { request } from 'undici';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { until } from './helpers/management.ts';
import { gatewayDoc, httpListener, backendYaml, prefixRouteYaml, routePolicyYaml } from './helpers/yaml.ts';

let gw: TestGateway;
let port: number;
let server: http.Server;
/** Accepts connections and never says a word: a TLS handshake with it never completes. */
let silent: net.Server;
const sockets = new Set<Socket>();
const perRoute = new Map<string, Set<number>>();

const backend = (name: string, p: number, extra = '') => backendYaml(name, [p], extra);
const route = (name: string, be: string, policy = '') => prefixRouteYaml(name, be) + (policy ? routePolicyYaml(name, policy) : '');

before(async () => {
  server = http.createServer((req, res) => {
    const name = req.url!.split('/')[1];
    if (!perRoute.has(name)) perRoute.set(name, new Set());
    perRoute.get(name)!.add(req.socket.remotePort!);
    res.end('ok');
  });
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const up = (server.address() as AddressInfo).port;
  silent = net.createServer(() => {});
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', () => resolve()));
  const mute = (silent.address() as AddressInfo).port;
  port = await freePort();
  gw = await startGateway(gatewayDoc([httpListener(port)]) + backend('up', up) + backend('mute', mute, '  tls: { insecureSkipVerify: true }\n') +
    route('perconn', 'up', 'circuitBreaker:\n  maxRequestsPerConnection: 1') +
    route('plain', 'up') +
    route('connect', 'mute', 'timeout:\n  tcp:\n    connectTimeout: 200ms') +
    route('idle', 'up', 'timeout:\n  http:\n    connectionIdleTimeout: 100ms'));
});

after(async () => {
  await gw?.close();
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await new Promise((r) => silent.close(r));
});

async function get(path: string) {
  const t0 = Date.now();
  const r = await request(`http://127.0.0.1:${port}${path}`);
  await r.body.dump();
  return { status: r.statusCode, ms: Date.now() - t0 };
}

test('maxRequestsPerConnection: 1 opens a connection per request; without it one connection serves them all', async () => {
  for (let i = 0; i < 4; i++) assert.equal((await get('/perconn')).status, 200);
  for (let i = 0; i < 4; i++) assert.equal((await get('/plain')).status, 200);
  assert.equal(perRoute.get('perconn')!.size, 4);
  assert.equal(perRoute.get('plain')!.size, 1);
});

test('connectTimeout: a replica that never completes the (TLS) handshake fails within it (not the 10 s default)', async () => {
  const r = await get('/connect');
  assert.ok(r.status === 502 || r.status === 503, String(r.status));
  assert.ok(r.ms < 2000, `${r.ms} ms`);
});

test('connectionIdleTimeout: an idle upstream connection is closed after it', async () => {
  assert.equal((await get('/idle')).status, 200);
  const [idlePort] = perRoute.get('idle')!;
  const socket = () => [...sockets].find((s) => s.remotePort === idlePort);
  await until('the idle connection is closed by the gateway', async () => socket() === undefined, 3000);
  // The plain route's connection (default idle timeout 60 s) is still open.
  const [plainPort] = perRoute.get('plain')!;
  assert.ok([...sockets].some((s) => s.remotePort === plainPort));
});
