// RequestMirror with large bodies over real sockets: the primary is answered
// whatever the mirror does, a mirror that keeps up gets the whole body, and a
// mirror that stops reading is dropped (and counted) instead of holding the
// primary, the client's socket and upstream connections.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { request } from 'undici';
import { startGateway, gatewayYaml, beRef, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { hashBody } from './helpers/upstream.ts';
import { routeYaml } from './helpers/yaml.ts';

let gw: TestGateway;
let port: number;
let primary: http.Server;
let mirror: http.Server;
let stuck: net.Server;
const stuckSockets = new Set<net.Socket>();
/** sha256 of each body the mirror received in full. */
const mirrored: string[] = [];
let mirrorWaiters: (() => void)[] = [];

function hashingServer(onBody: (hash: string, bytes: number) => void): http.Server {
  return http.createServer((req, res) => {
    void hashBody(req).then(({ hash, bytes }) => {
      onBody(hash, bytes);
      res.end(JSON.stringify({ hash, bytes }));
    });
  });
}

const listen = (s: net.Server) => new Promise<number>((resolve) => s.listen(0, '127.0.0.1', () => resolve((s.address() as AddressInfo).port)));

before(async () => {
  primary = hashingServer(() => {});
  mirror = hashingServer((hash) => {
    mirrored.push(hash);
    for (const w of mirrorWaiters) w();
    mirrorWaiters = [];
  });
  // Accepts the mirror's connection and never reads from it.
  stuck = net.createServer((s) => {
    stuckSockets.add(s);
    s.pause();
  });
  const [pp, mp, sp] = await Promise.all([listen(primary), listen(mirror), listen(stuck)]);
  port = await freePort();
  const route = (name: string, prefix: string, mirrorTo: string) => routeYaml(name, `- matches: [{ path: { type: PathPrefix, value: ${prefix} } }]
  filters: [{ type: RequestMirror, requestMirror: { backendRef: ${beRef(mirrorTo)} } }]
  backendRefs: [${beRef('primary')}]`);
  gw = await startGateway(gatewayYaml(port, { primary: pp, mirror: mp, stuck: sp }, route('keeps-up', '/ok', 'mirror') + route('stuck', '/stuck', 'stuck')));
});

after(async () => {
  await gw?.close();
  for (const s of stuckSockets) s.destroy();
  await Promise.all([primary, mirror, stuck].map((s) => new Promise<void>((resolve) => {
    s.close(() => resolve());
    if (s instanceof http.Server) s.closeAllConnections();
  })));
});

/** A chunked body (no Content-Length) of `size` bytes in 16 KiB pieces. */
function chunked(size: number, seed: number): { stream: Readable; hash: string } {
  const piece = Buffer.alloc(16 * 1024);
  for (let i = 0; i < piece.length; i++) piece[i] = (i * 31 + seed) & 0xff;
  const h = createHash('sha256');
  let left = size;
  const parts: Buffer[] = [];
  while (left > 0) {
    const p = piece.subarray(0, Math.min(left, piece.length));
    parts.push(p);
    h.update(p);
    left -= p.length;
  }
  return { stream: Readable.from(parts), hash: h.digest('hex') };
}

async function post(path: string, size: number, seed: number): Promise<{ status: number; hash: string; bytes: number; sent: string }> {
  const { stream, hash } = chunked(size, seed);
  const r = await request(`http://127.0.0.1:${port}${path}`, { method: 'POST', body: stream, headersTimeout: 10_000, bodyTimeout: 10_000 });
  const body = (await r.body.json()) as { hash: string; bytes: number };
  return { status: r.statusCode, ...body, sent: hash };
}

async function droppedMirrors(): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const m = /portcullis_upstream_errors_total\{[^}]*kind="mirror_dropped"[^}]*\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

test('large chunked bodies on a mirrored route: the primary is answered, the mirror gets the same bytes', async () => {
  for (const [i, size] of [128 * 1024, 512 * 1024, 4 * 1024 * 1024].entries()) {
    const got = new Promise<void>((resolve) => mirrorWaiters.push(resolve));
    const r = await post('/ok/upload', size, i);
    assert.equal(r.status, 200);
    assert.equal(r.bytes, size);
    assert.equal(r.hash, r.sent, 'the primary got the body unchanged');
    await got;
    assert.equal(mirrored.at(-1), r.sent, 'the mirror got the same body');
  }
});

test('a mirror that stops reading is dropped and counted; the primary is not held', async () => {
  const before = await droppedMirrors();
  const size = 24 * 1024 * 1024; // well past what the kernel's socket buffers absorb
  const r = await post('/stuck/upload', size, 7);
  assert.equal(r.status, 200);
  assert.equal(r.bytes, size);
  assert.equal(r.hash, r.sent);
  assert.equal(await droppedMirrors(), before + 1, 'the dropped mirror is counted once');
  // And the gateway still serves the next request on that route.
  const small = await post('/stuck/again', 1000, 8);
  assert.equal(small.status, 200);
});
