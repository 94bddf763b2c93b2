// ClientTrafficPolicy settings beyond client IP detection and client
// validation, over real sockets: Envoy Gateway's task pages (client traffic
// policy, connection limit) with their YAML as written, and the other fields
// with the answers Envoy Gateway gives. One gateway, reloaded per case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, egRequest, statusOf } from './helpers/eg-quickstart.ts';

let up: Upstream;
let gw: TestGateway;
let port = 0;

before(async () => {
  up = await startUpstream('backend');
  port = await freePort();
  gw = await startGateway(egQuickstart(port, up.port));
});

after(async () => {
  await gw?.close();
  await up?.close();
});

/** The quickstart plus `extra`, served (the reload must succeed). */
async function serve(extra: string): Promise<void> {
  await gw.write(egQuickstart(port, up.port, { extra }));
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

/** A raw connection; `text` is everything it received, `closed` resolves (with the ms since open) when the gateway closed it. */
function rawConnection(p = port): Promise<{ socket: net.Socket; text: () => string; closed: Promise<number> }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    let text = '';
    const socket = net.connect(p, '127.0.0.1');
    socket.setEncoding('utf8');
    socket.on('data', (c: string) => (text += c));
    const closed = new Promise<number>((r) => socket.on('close', () => r(performance.now() - start)));
    socket.on('error', () => {});
    socket.once('connect', () => resolve({ socket, text: () => text, closed }));
    socket.once('error', reject);
  });
}

/** Resolves when `text()` contains `what` (or rejects after 10 s). */
async function waitFor(text: () => string, what: string): Promise<void> {
  const until = performance.now() + 10_000;
  while (!text().includes(what)) {
    if (performance.now() > until) throw new Error(`never received ${JSON.stringify(what)}; got ${JSON.stringify(text())}`);
    await new Promise((r) => setImmediate(r));
  }
}

const GET = 'GET /get HTTP/1.1\r\nHost: www.example.com\r\n\r\n';

describe('timeout.http (client traffic policy task)', () => {
  test('requestReceivedTimeout: 2s — a request whose body never comes is 408 "request timeout" after 2 s, the connection closed', async () => {
    // The task's YAML as written (no namespace: the file's default is "default").
    await serve(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: client-timeout
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: eg
  timeout:
    http:
      requestReceivedTimeout: 2s
`);
    assert.equal((await egRequest(port, '/get')).status, 200, 'a whole request is served');
    const c = await rawConnection();
    c.socket.write('GET /get HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 10000\r\n\r\n');
    const ms = await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(c.text(), /\r\ncontent-type: text\/plain\r\n/i);
    assert.match(c.text(), /\r\n\r\nrequest timeout$/);
    assert.ok(ms >= 1900 && ms < 8000, `closed after ${Math.round(ms)} ms`);
  });

  test('a slow upstream is not the client: a request received whole is answered however late', async () => {
    // Still the 2 s policy: the request was received; the answer takes 2.5 s.
    const r = await egRequest(port, '/delay/2500');
    assert.equal(r.status, 200);
  });

  test('idleTimeout: 5s — a connection with no request in flight is closed after 5 s', async () => {
    await serve(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: client-timeout
spec:
  targetRefs:
    - group: gateway.networking.k8s.io
      kind: Gateway
      name: eg
  timeout:
    http:
      idleTimeout: 5s
`);
    const silent = await rawConnection();
    const served = await rawConnection();
    served.socket.write(GET);
    await waitFor(served.text, '"backend":"backend"');
    const [a, b] = await Promise.all([silent.closed, served.closed]);
    for (const ms of [a, b]) assert.ok(ms >= 4900 && ms < 12_000, `closed after ${Math.round(a)} ms (silent) and ${Math.round(b)} ms (served)`);
  });
});

describe('connection.connectionLimit (connection limit task)', () => {
  test('value: 5 — of 10 connections 5 are served, the others closed without an answer', async () => {
    await serve(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata:
  name: connection-limit-ctp
  namespace: default
spec:
  targetRef:
    group: gateway.networking.k8s.io
    kind: Gateway
    name: eg
    namespace: default
  connection:
    connectionLimit:
      value: 5    
`);
    const conns: Awaited<ReturnType<typeof rawConnection>>[] = [];
    let served = 0;
    let refused = 0;
    for (let i = 0; i < 10; i++) {
      const c = await rawConnection();
      conns.push(c);
      c.socket.write(GET);
      // Served (the answer comes, the connection stays open), or closed with nothing said.
      const outcome = await Promise.race([waitFor(c.text, '"backend":"backend"').then(() => 'served'), c.closed.then(() => 'closed')]);
      if (outcome === 'served') served++;
      else {
        assert.equal(c.text(), '', 'a refused connection is never answered');
        refused++;
      }
    }
    assert.deepEqual({ served, refused }, { served: 5, refused: 5 });
    // One served connection goes: a new one is served again.
    conns[0].socket.destroy();
    await conns[0].closed;
    const next = await rawConnection();
    next.socket.write(GET);
    await waitFor(next.text, '"backend":"backend"');
    for (const c of [...conns, next]) c.socket.destroy();
  });

  test('closeDelay: a connection over the limit is held, unread, for the delay, then closed', async () => {
    await serve(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: connection-limit-ctp, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: eg }]
  connection:
    connectionLimit: { value: 1, closeDelay: 1s }
`);
    const first = await rawConnection();
    first.socket.write(GET);
    await waitFor(first.text, '"backend":"backend"');
    const over = await rawConnection();
    over.socket.write(GET);
    const ms = await over.closed;
    assert.equal(over.text(), '', 'never answered');
    assert.ok(ms >= 900 && ms < 8000, `closed after ${Math.round(ms)} ms`);
    first.socket.destroy();
  });
});

describe('status', () => {
  test('fields not served are named in the policy status, with Node\'s reason where it is Node\'s', async () => {
    await serve(`---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: ClientTrafficPolicy
metadata: { name: unserved, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: Gateway, name: eg }]
  timeout:
    tcp: { idleTimeout: 1h }
    http: { idleTimeout: 1h, streamIdleTimeout: 5m }
  connection:
    socketBufferLimit: 32Ki
    bufferLimit: 32Ki
`);
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/unserved');
    const cond = st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields');
    assert.ok(cond, JSON.stringify(st));
    assert.match(cond.message, /timeout\.tcp \(/);
    assert.match(cond.message, /timeout\.http\.streamIdleTimeout \(/);
    assert.match(cond.message, /connection\.socketBufferLimit \(Node cannot/);
    assert.doesNotMatch(cond.message, /bufferLimit: |timeout\.http\.idleTimeout|connection\.bufferLimit/);
  });
});
