// The exchange with an upstream replica (src/dataplane/exchange.ts), over real
// sockets: a route timeout answers 504 and cuts the upstream request, a client
// that leaves cuts the upstream request too, a slow client is streamed to with
// backpressure (nothing buffered whole, nothing lost), and an upstream that
// dies mid-answer cuts the client's answer instead of leaving it hanging.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, gatewayYaml, beRef, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { routeYaml } from './helpers/yaml.ts';

// Larger than every kernel socket buffer on the way (client, gateway, upstream legs).
const BIG = 48 * 1024 * 1024;
let bigSent = 0;
let upstream: http.Server;
let gw: TestGateway;
let port: number;
/** Upstream requests whose connection closed before the upstream answered. */
const cut: string[] = [];
let arrived: (path: string) => void = () => {};

before(async () => {
  upstream = http.createServer((req, res) => {
    arrived(req.url!);
    req.socket.once('close', () => { if (!res.writableFinished) cut.push(req.url!); });
    if (req.url === '/big') {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': BIG });
      const chunk = Buffer.alloc(64 * 1024);
      let sent = 0;
      const pump = (): void => {
        while (sent < BIG) {
          for (let i = 0; i < chunk.length; i++) chunk[i] = (sent + i) & 0xff;
          sent += chunk.length;
          bigSent = sent;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
    } else if (req.url === '/dies-midway') {
      res.writeHead(200, { 'content-length': 1000 });
      res.write('x'.repeat(100));
      setImmediate(() => req.socket.destroy());
    } else if (req.url?.startsWith('/never')) {
      // never answers
    } else {
      res.end('ok');
    }
  });
  upstream.listen(0, '127.0.0.1');
  await once(upstream, 'listening');
  port = await freePort();
  const routes = routeYaml('r', `- matches: [{ path: { type: PathPrefix, value: /never/timed } }]
  timeouts: { request: 300ms }
  backendRefs: [${beRef('up')}]
- backendRefs: [${beRef('up')}]`);
  gw = await startGateway(gatewayYaml(port, { up: (upstream.address() as AddressInfo).port }, routes));
});

after(async () => {
  await gw?.close();
  upstream.closeAllConnections();
  upstream.close();
});

async function until(cond: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function metric(re: RegExp): Promise<number> {
  const text = await (await request(gw.adminUrl + '/metrics')).body.text();
  return Number(re.exec(text)?.[1] ?? 0);
}

test('timeouts.request answers 504 and cuts the upstream request', async () => {
  const started = Date.now();
  const r = await request(`http://127.0.0.1:${port}/never/timed`);
  assert.equal(r.statusCode, 504);
  assert.equal(await r.body.text(), 'upstream request timeout\n');
  assert.ok(Date.now() - started < 3000);
  await until(() => cut.includes('/never/timed'));
});

test('a client that leaves before the answer cuts the upstream request, counted as 499', async () => {
  const before499 = await metric(/portcullis_requests_total\{route="default\/r\/1",status="499"\} (\d+)/);
  const reached = new Promise<void>((resolve) => { arrived = (p) => { if (p === '/never/left') resolve(); }; });
  const sock = net.connect(port, '127.0.0.1');
  sock.write('GET /never/left HTTP/1.1\r\nHost: x\r\n\r\n');
  await reached;
  sock.destroy();
  await until(() => cut.includes('/never/left'));
  const after499 = await metric(/portcullis_requests_total\{route="default\/r\/1",status="499"\} (\d+)/);
  assert.equal(after499, before499 + 1);
});

test('a client that stops reading pauses the upstream; the answer then arrives whole', async () => {
  const r = await request(`http://127.0.0.1:${port}/big`, { highWaterMark: 16 * 1024 });
  assert.equal(r.statusCode, 200);
  const body = r.body as AsyncIterable<Buffer> & { pause(): void };
  // Read nothing for a while: the upstream must be held back, not drained into the gateway's memory.
  body.pause();
  // Settled: nothing more sent for 300 ms.
  let last = -1;
  let since = Date.now();
  await until(() => {
    if (bigSent !== last) [last, since] = [bigSent, Date.now()];
    return bigSent > 0 && Date.now() - since > 300;
  }, 10_000);
  assert.ok(bigSent < BIG / 2, `upstream paused after ${bigSent} of ${BIG} bytes`);
  let got = 0;
  let ok = true;
  for await (const chunk of body) {
    for (let i = 0; i < chunk.length; i += 4099) if (chunk[i] !== ((got + i) & 0xff)) ok = false;
    got += chunk.length;
  }
  assert.equal(got, BIG);
  assert.ok(ok, 'bytes arrive in order and unchanged');
  assert.equal((await request(`http://127.0.0.1:${port}/`)).statusCode, 200);
});

test('an upstream that dies after the headers cuts the client answer (never a hang, never a second status)', async () => {
  const r = await request(`http://127.0.0.1:${port}/dies-midway`);
  assert.equal(r.statusCode, 200);
  await assert.rejects(r.body.text());
  const ok = await request(`http://127.0.0.1:${port}/`);
  assert.equal(ok.statusCode, 200);
  assert.equal(await ok.body.text(), 'ok');
});
