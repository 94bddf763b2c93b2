// The upstream exchange's extension point over real sockets: a decorator
// registered in DECORATORS wraps one route's upstream dispatch (here a
// retry-once-on-503, written as retries will be: a stable controller for the
// exchange, abandoned attempts silenced, the body replayed within its bound),
// another answers for the backend (UpstreamRefused, as an open circuit will),
// and routes without a decorator are untouched.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { request, type Dispatcher } from 'undici';
import { startGateway, gatewayYaml, beRef, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { hashBody } from './helpers/upstream.ts';
import { AttemptController, DECORATORS, IDLE_CONTROLLER, UpstreamRefused, type UpstreamDispatch, type UpstreamRequest, type UpstreamDecoratorBuilder } from '../src/upstream/decorators.ts';

const REPLAY_BYTES = 64 * 1024;
const RETRYING: Error = new Error('retrying on another attempt');

/** Retries once when the backend answers 503, if the body can be sent again. */
class RetryOnce implements Dispatcher.DispatchHandler {
  private req: UpstreamRequest;
  private down: Dispatcher.DispatchHandler;
  private next: UpstreamDispatch;
  private abandoned: Dispatcher.DispatchController | null = null;
  private started = false;
  retried = false;
  /** What the exchange holds: it reaches whichever attempt is live. */
  private ctl = new AttemptController();

  constructor(req: UpstreamRequest, down: Dispatcher.DispatchHandler, next: UpstreamDispatch) {
    this.req = req;
    this.down = down;
    this.next = next;
  }

  onRequestStart(c: Dispatcher.DispatchController, context: unknown): void {
    this.ctl.live = c;
    if (this.ctl.reason) return c.abort(this.ctl.reason);
    if (!this.started) {
      this.started = true;
      this.down.onRequestStart?.(this.ctl, context);
    }
  }
  onResponseStart(c: Dispatcher.DispatchController, status: number, headers: http.IncomingHttpHeaders, msg?: string): void {
    if (status === 503 && !this.retried) {
      const hasBody = this.req.body !== undefined;
      const body = hasBody ? this.req.replay?.stream() : undefined;
      if (!hasBody || body) {
        this.retried = true;
        this.abandoned = c;
        c.abort(RETRYING);
        this.next({ ...this.req, body, member: undefined }, this);
        return;
      }
    }
    this.down.onResponseStart?.(this.ctl, status, headers, msg);
  }
  onResponseData(c: Dispatcher.DispatchController, chunk: Buffer): void {
    if (c !== this.abandoned) this.down.onResponseData?.(this.ctl, chunk);
  }
  onResponseEnd(c: Dispatcher.DispatchController, trailers: http.IncomingHttpHeaders): void {
    if (c !== this.abandoned) this.down.onResponseEnd?.(this.ctl, trailers);
  }
  onResponseError(c: Dispatcher.DispatchController, err: Error): void {
    if (c !== this.abandoned) this.down.onResponseError?.(this.ctl, err);
  }
}

const retryOnRetryRoutes: UpstreamDecoratorBuilder = (route) =>
  route.label.includes('retrying') ? { name: 'retry-once', replayBytes: REPLAY_BYTES, intercept: (next) => (req, handler) => next(req, new RetryOnce(req, handler, next)) } : undefined;

const refuseOnOpenRoutes: UpstreamDecoratorBuilder = (route) =>
  route.label.includes('open') ? { name: 'open-circuit', intercept: () => (_req, handler) => handler.onResponseError?.(IDLE_CONTROLLER, new UpstreamRefused({ status: 503, headers: { 'x-envoy-overloaded': 'true' }, body: 'upstream circuit open\n' }, 'overflow')) } : undefined;

let gw: TestGateway;
let port: number;
let upstream: http.Server;
/** Every attempt the backend saw: path, body hash and size. */
const attempts: { path: string; hash: string; bytes: number }[] = [];

before(async () => {
  DECORATORS.push(retryOnRetryRoutes, refuseOnOpenRoutes);
  // Answers 503 to the first attempt of each request id, 200 with the body's hash afterwards.
  const seenIds = new Set<string>();
  upstream = http.createServer((req, res) => {
    void hashBody(req).then(({ hash, bytes }) => {
      attempts.push({ path: req.url!, hash, bytes });
      const id = String(req.headers['x-request-id']);
      if (req.url!.includes('/flaky') && !seenIds.has(id)) {
        seenIds.add(id);
        res.writeHead(503).end('try again');
        return;
      }
      res.end(JSON.stringify({ hash, bytes }));
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  port = await freePort();
  const rule = (name: string, prefix: string) => `    - name: ${name}\n      matches: [{ path: { type: PathPrefix, value: ${prefix} } }]\n      backendRefs: [${beRef('up')}]\n`;
  gw = await startGateway(gatewayYaml(port, { up: (upstream.address() as AddressInfo).port }, `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules:
${rule('retrying', '/retry')}${rule('open', '/open')}${rule('plain', '/plain')}`));
});

after(async () => {
  DECORATORS.splice(DECORATORS.indexOf(retryOnRetryRoutes), 1);
  DECORATORS.splice(DECORATORS.indexOf(refuseOnOpenRoutes), 1);
  await gw?.close();
  await new Promise<void>((resolve) => {
    upstream?.close(() => resolve());
    upstream?.closeAllConnections();
  });
});

function body(size: number): { stream: Readable; hash: string } {
  const parts: Buffer[] = [];
  for (let left = size, i = 0; left > 0; i++) {
    const p = Buffer.alloc(Math.min(left, 8192), i & 0xff);
    parts.push(p);
    left -= p.length;
  }
  return { stream: Readable.from(parts), hash: createHash('sha256').update(Buffer.concat(parts)).digest('hex') };
}

async function send(path: string, size?: number): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders; sent?: string }> {
  const b = size === undefined ? undefined : body(size);
  const r = await request(`http://127.0.0.1:${port}${path}`, { method: b ? 'POST' : 'GET', body: b?.stream });
  return { status: r.statusCode, text: await r.body.text(), headers: r.headers, sent: b?.hash };
}

test('a retry decorator replays a streamed body within its bound: the second attempt gets the same bytes', async () => {
  attempts.length = 0;
  const r = await send('/retry/flaky', 40 * 1024);
  assert.equal(r.status, 200, r.text);
  assert.deepEqual(JSON.parse(r.text), { hash: r.sent, bytes: 40 * 1024 });
  assert.equal(attempts.length, 2, 'two attempts reached the backend');
  assert.deepEqual(attempts[0], attempts[1], 'both attempts carried the whole body');
  // No body at all is always retryable.
  attempts.length = 0;
  assert.equal((await send('/retry/flaky/get')).status, 200);
  assert.equal(attempts.length, 2);
});

test('a body over the replay bound still streams but is not retried: the client gets the first answer', async () => {
  attempts.length = 0;
  const r = await send('/retry/flaky/big', REPLAY_BYTES * 4);
  assert.equal(r.status, 503);
  assert.equal(r.text, 'try again');
  assert.equal(attempts.length, 1);
  assert.equal(attempts[0].bytes, REPLAY_BYTES * 4, 'the one attempt got the whole body');
  // The same size on a successful route is proxied whole.
  const ok = await send('/retry/fine', REPLAY_BYTES * 4);
  assert.deepEqual(JSON.parse(ok.text), { hash: ok.sent, bytes: REPLAY_BYTES * 4 });
});

test('a decorator answers instead of the backend with UpstreamRefused: its reply, counted under its kind', async () => {
  attempts.length = 0;
  const r = await send('/open/x');
  assert.equal(r.status, 503);
  assert.equal(r.text, 'upstream circuit open\n');
  assert.equal(r.headers['x-envoy-overloaded'], 'true');
  assert.equal(attempts.length, 0, 'nothing reached the backend');
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  assert.match(text, /portcullis_upstream_errors_total\{[^}]*kind="overflow"[^}]*\} 1/);
});

test('a route without decorators is proxied as before', async () => {
  attempts.length = 0;
  const r = await send('/plain/flaky', 1000);
  assert.equal(r.status, 503, 'no retry where no decorator asked for one');
  assert.equal(attempts.length, 1);
});
