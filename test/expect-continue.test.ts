// Uploads with `Expect: 100-continue` (curl sends it by itself for bodies over
// 1 MiB) over real sockets, HTTP/1.1 and h2: every size up to the body limit
// reaches the backend whole, the gateway answers 100 Continue itself (as
// Envoy does) and never forwards the expectation, a body over the limit gets
// 413 before it is sent, and an answer that needs no body gets no 100.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { AddressInfo } from 'node:net';
import { startGateway, beRef, type TestGateway } from './helpers/gateway.ts';
import { freePort } from './helpers/ports.ts';
import { gatewayDoc, httpListener, httpsListener, tlsSecretYaml, backendYaml, routeYaml } from './helpers/yaml.ts';
import { DEFAULT_LIMITS, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { makeCa, issueLocalhostCert, type RootCa } from './helpers/certs.ts';

const LIMIT = 2 * 1024 * 1024;
const MiB = 1024 * 1024;

let gw: TestGateway;
let upstream: http.Server;
let dir: string;
let ca: RootCa;
let httpPort: number;
let httpsPort: number;
/** What the backend saw of each upload: byte count and whether an Expect header reached it. */
const seen: { bytes: number; expect: string | undefined }[] = [];

before(async () => {
  ca = await makeCa();
  const cert = await issueLocalhostCert(ca);
  dir = await mkdtemp(join(tmpdir(), 'portcullis-expect-'));
  await writeFile(join(dir, 'ca.pem'), ca.certPem);
  upstream = http.createServer((req, res) => {
    let bytes = 0;
    req.on('data', (c: Buffer) => (bytes += c.length));
    req.on('end', () => {
      seen.push({ bytes, expect: req.headers.expect });
      res.end(`got ${bytes}\n`);
    });
  });
  // A backend that knows Expect would answer 100 itself: it must never be asked.
  upstream.on('checkContinue', (req, res) => {
    seen.push({ bytes: -1, expect: req.headers.expect });
    res.writeHead(417).end();
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', () => resolve()));
  const upPort = (upstream.address() as AddressInfo).port;
  [httpPort, httpsPort] = [await freePort(), await freePort()];
  gw = await startGateway(gatewayDoc([httpListener(httpPort), httpsListener('https', httpsPort)]) + tlsSecretYaml('cert', cert) + backendYaml('up', [upPort]) +
    routeYaml('r', `- matches: [{ path: { type: PathPrefix, value: /old } }]
  filters: [{ type: RequestRedirect, requestRedirect: { hostname: new.example.com, statusCode: 301 } }]
- backendRefs: [${beRef('up')}]`), { translate: { ...DEFAULT_TRANSLATE_OPTIONS, limits: { ...DEFAULT_LIMITS, maxBodyBytes: LIMIT } } });
});

after(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => {
    upstream?.close(() => resolve());
    upstream?.closeAllConnections();
  });
  await rm(dir, { recursive: true, force: true });
});

interface CurlResult {
  status: number;
  body: string;
  /** Every status line curl saw, 100 Continue included (from -w %{http_code} we only get the last). */
  statuses: number[];
}

/** POST `size` bytes with curl (from stdin, so curl decides about Expect as it does for files). */
function curl(url: string, size: number, extra: string[] = []): Promise<CurlResult> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      'curl',
      ['-sS', '-i', '--cacert', join(dir, 'ca.pem'), '--data-binary', '@-', '-H', 'content-type: application/octet-stream', '-H', `content-length: ${size}`, ...extra, url],
      { encoding: 'latin1', maxBuffer: 16 * MiB, timeout: 30_000 },
      (err, stdout) => {
        if (err) return reject(err);
        const statuses = [...stdout.matchAll(/^HTTP\/[\d.]+ (\d{3})/gm)].map((m) => Number(m[1]));
        const body = stdout.slice(stdout.lastIndexOf('\r\n\r\n') + 4);
        resolve({ status: statuses[statuses.length - 1], statuses, body });
      },
    );
    child.stdin!.end(Buffer.alloc(size, 0x61));
  });
}

async function upstreamConnectErrors(): Promise<number> {
  const text = await (await fetch(`${gw.adminUrl}/metrics`)).text();
  const m = /portcullis_upstream_errors_total\{[^}]*kind="connect"[^}]*\} (\d+)/.exec(text);
  return m ? Number(m[1]) : 0;
}

test('HTTP/1.1 uploads of every size up to the limit reach the backend whole, with and without Expect', async () => {
  const url = `http://127.0.0.1:${httpPort}/upload`;
  for (const size of [0, 1, MiB, MiB + 1, LIMIT]) {
    for (const expect of [[], ['-H', 'Expect: 100-continue'], ['-H', 'Expect:']]) {
      seen.length = 0;
      const r = await curl(url, size, expect);
      assert.equal(r.status, 200, `size ${size} ${expect.join(' ')}: ${r.statuses.join(',')} ${r.body}`);
      assert.equal(r.body, `got ${size}\n`);
      assert.deepEqual(seen, [{ bytes: size, expect: undefined }], 'the backend got the whole body and no Expect header');
      // 100 Continue only when asked for, and at most once.
      assert.ok(r.statuses.filter((s) => s === 100).length <= 1);
    }
  }
  assert.equal(await upstreamConnectErrors(), 0, 'a healthy backend is never counted as a connect failure');
});

test('h2 uploads with Expect: 100-continue reach the backend whole', async () => {
  const url = `https://localhost:${httpsPort}/upload`;
  for (const size of [1, MiB + 1, LIMIT]) {
    for (const expect of [['-H', 'Expect: 100-continue'], []]) {
      seen.length = 0;
      const r = await curl(url, size, ['--http2', ...expect]);
      assert.equal(r.status, 200, `h2 size ${size}: ${r.statuses.join(',')} ${r.body}`);
      assert.equal(r.body, `got ${size}\n`);
      assert.deepEqual(seen, [{ bytes: size, expect: undefined }]);
    }
  }
  assert.equal(await upstreamConnectErrors(), 0);
});

/** Send a request head only and return what the gateway answers before any body byte is sent. */
function headOnly(head: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(httpPort, '127.0.0.1', () => s.write(head));
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      got += d;
      // A final answer (not 100) with its body, or the connection closed.
      if (/^HTTP\/1\.1 [2-5]\d\d[^]*\r\n\r\n/m.test(got.replace(/^HTTP\/1\.1 100 Continue\r\n\r\n/, ''))) s.end();
    });
    s.on('end', () => resolve(got));
    s.on('close', () => resolve(got));
    s.on('error', reject);
    s.setTimeout(5000, () => {
      s.destroy();
      resolve(got + '\n[timed out]');
    });
  });
}

test('a body over the limit with Expect gets 413 before it is sent, never 100 Continue', async () => {
  seen.length = 0;
  const got = await headOnly(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: ${LIMIT + 1}\r\nExpect: 100-continue\r\n\r\n`);
  assert.match(got, /^HTTP\/1\.1 413 /, got);
  assert.doesNotMatch(got, /100 Continue/);
  assert.deepEqual(seen, [], 'nothing reached the backend');
  // curl agrees: 413, no 100.
  const r = await curl(`http://127.0.0.1:${httpPort}/upload`, LIMIT + 1);
  assert.deepEqual(r.statuses, [413]);
});

test('an answer that needs no body (a redirect) is given without 100 Continue', async () => {
  const got = await headOnly(`POST /old HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\nExpect: 100-continue\r\n\r\n`);
  assert.match(got, /^HTTP\/1\.1 301 /, got);
  assert.doesNotMatch(got, /100 Continue/);
  // The unread body would be taken for the next request: the connection closes.
  assert.match(got, /connection: close/i);
});

test('a proxied request with Expect gets 100 Continue once, then the backend answer', async () => {
  const got = await new Promise<string>((resolve, reject) => {
    const s = net.connect(httpPort, '127.0.0.1', () => s.write(`POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n`));
    let out = '';
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      if (out === '' && d.startsWith('HTTP/1.1 100')) s.write('hello');
      out += d;
    });
    s.on('end', () => resolve(out));
    s.on('error', reject);
  });
  assert.match(got, /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 200 /, got);
  assert.equal(got.match(/100 Continue/g)?.length, 1);
  assert.match(got, /got 5\n$/);
});
