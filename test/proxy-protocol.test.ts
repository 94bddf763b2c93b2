// ClientTrafficPolicy proxyProtocol (and the deprecated enableProxyProtocol)
// over real sockets: a raw connection writes a PROXY protocol v1 or v2 header,
// then HTTP/1.1, TLS (HTTP/1.1 and HTTP/2 through tls.connect({ socket })) or
// h2c; the upstream's X-Forwarded-For, SecurityPolicy clientCIDRs, Istio
// remoteIpBlocks / ipBlocks and the access log (--workers 2) see the header's
// source. Without the header, with a malformed or oversized one, or one
// trickled slower than the request-head bound: closed unanswered.
// The parser itself is checked over Buffers first.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import http2 from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { closedWithin, dechunk, rawExchange, trickle } from './helpers/sockets.ts';
import { egRouteYaml, statusOf } from './helpers/eg-quickstart.ts';
import { gatewayDoc, httpListener, httpsListener, istioSelectorYaml, policyYaml, serviceYaml, tlsSecretYaml } from './helpers/yaml.ts';
import { makeCa, issueServerCert, type IssuedCert, type RootCa } from './helpers/certs.ts';
import { startCli, type Running } from './helpers/cli.ts';
import { DEFAULT_CONNECTION, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { MAX_V1_LENGTH, parseProxyHeader } from '../src/dataplane/proxy-protocol.ts';

const V2_SIGNATURE = Buffer.from('\r\n\r\n\0\r\nQUIT\n', 'latin1');

/** A v2 header: `command` 0 LOCAL / 1 PROXY, `family` 0x11 TCP over IPv4, 0x21 over IPv6; `tlv` bytes follow the addresses. */
function v2(command: number, family: number, addresses: Buffer, tlv = Buffer.alloc(0)): Buffer {
  const len = Buffer.alloc(2);
  len.writeUInt16BE(addresses.length + tlv.length);
  return Buffer.concat([V2_SIGNATURE, Buffer.from([0x20 | command, family]), len, addresses, tlv]);
}

/** IPv4 source and destination with their ports, as v2 writes them. */
function inet(src: string, dst: string, sport: number, dport: number): Buffer {
  const b = Buffer.alloc(12);
  src.split('.').forEach((x, i) => (b[i] = Number(x)));
  dst.split('.').forEach((x, i) => (b[4 + i] = Number(x)));
  b.writeUInt16BE(sport, 8);
  b.writeUInt16BE(dport, 10);
  return b;
}

/** IPv6 source (16 bytes given as hex) and ::1 as destination. */
function inet6(srcHex: string, sport: number): Buffer {
  const b = Buffer.alloc(36);
  Buffer.from(srcHex, 'hex').copy(b, 0);
  b[31] = 1;
  b.writeUInt16BE(sport, 32);
  b.writeUInt16BE(443, 34);
  return b;
}

const V1 = 'PROXY TCP4 203.0.113.7 10.0.0.1 51234 80\r\n';
const TLV = Buffer.from([0x04, 0x00, 0x03, 0x61, 0x62, 0x63]); // PP2_TYPE_NOOP, 3 bytes

describe('parseProxyHeader', () => {
  const done = (buf: Buffer | string) => parseProxyHeader(Buffer.from(buf as string, 'latin1'));

  test('v1 TCP4, TCP6 and UNKNOWN; the header length excludes what follows', () => {
    assert.deepEqual(done(`${V1}GET /`), { state: 'done', length: V1.length, source: '203.0.113.7', sourcePort: 51234 });
    assert.deepEqual(done('PROXY TCP6 2001:DB8::7 ::1 1 443\r\n'), { state: 'done', length: 34, source: '2001:db8::7', sourcePort: 1 });
    assert.deepEqual(done('PROXY UNKNOWN ff:: ::1 1 2\r\n'), { state: 'done', length: 28, source: undefined, sourcePort: undefined });
  });

  test('v1: a prefix is partial, other first bytes are absent, bad fields and over-long lines are invalid', () => {
    for (const p of ['P', 'PROXY', 'PROXY TCP4 1.2.3.4']) assert.equal(done(p).state, 'partial', p);
    for (const p of ['GET / HTTP/1.1', 'PRI * HTTP/2.0', 'PROXI', '\x16\x03\x01']) assert.equal(done(p).state, 'absent', p);
    for (const p of [
      'PROXY TCP4 999.0.0.1 10.0.0.1 1 2\r\n',
      'PROXY TCP4 2001:db8::1 10.0.0.1 1 2\r\n',
      'PROXY TCP6 1.2.3.4 ::1 1 2\r\n',
      'PROXY TCP4 1.2.3.4 10.0.0.1 65536 2\r\n',
      'PROXY TCP4 1.2.3.4 10.0.0.1 01 2\r\n',
      'PROXY TCP4 1.2.3.4 10.0.0.1 1\r\n',
      'PROXY UDP4 1.2.3.4 10.0.0.1 1 2\r\n',
      'PROXY TCP4 1.2.3.4 10.0.0.1 1 2\n',
      `PROXY UNKNOWN ${'x'.repeat(MAX_V1_LENGTH)}`,
    ]) assert.equal(done(p).state, 'invalid', p);
    // 107 bytes, CRLF included, is the longest line allowed.
    const longest = `PROXY UNKNOWN ${'x'.repeat(MAX_V1_LENGTH - 16)}\r\n`;
    assert.equal(longest.length, MAX_V1_LENGTH);
    assert.equal(done(longest).state, 'done');
  });

  test('v2 PROXY over IPv4 and IPv6 (TLVs skipped), LOCAL and AF_UNSPEC keep the peer', () => {
    const four = v2(1, 0x11, inet('198.51.100.9', '10.0.0.1', 4000, 80), TLV);
    assert.deepEqual(parseProxyHeader(Buffer.concat([four, Buffer.from('GET')])), { state: 'done', length: four.length, source: '198.51.100.9', sourcePort: 4000 });
    assert.equal((parseProxyHeader(v2(1, 0x21, inet6('20010db8000000000000000000000007', 1))) as { source: string }).source, '2001:db8::7');
    assert.equal((parseProxyHeader(v2(1, 0x21, inet6('20010db8000100000000000100000000', 1))) as { source: string }).source, '2001:db8:1::1:0:0');
    assert.equal((parseProxyHeader(v2(1, 0x21, inet6('00000000000000000000ffffc0000201', 1))) as { source: string }).source, '192.0.2.1');
    assert.deepEqual(parseProxyHeader(v2(0, 0x11, inet('1.2.3.4', '5.6.7.8', 1, 2))), { state: 'done', length: 28, source: undefined, sourcePort: undefined });
    assert.equal((parseProxyHeader(v2(1, 0x00, Buffer.alloc(0))) as { source?: string }).source, undefined);
  });

  test('v2: short is partial; bad version, command, family, transport, short addresses and oversized are invalid', () => {
    const full = v2(1, 0x11, inet('1.2.3.4', '5.6.7.8', 1, 2));
    for (const n of [1, 12, 15, full.length - 1]) assert.equal(parseProxyHeader(full.subarray(0, n)).state, 'partial', `${n} bytes`);
    const withByte = (at: number, v: number) => {
      const b = Buffer.from(full);
      b[at] = v;
      return b;
    };
    assert.equal(parseProxyHeader(withByte(3, 0x41)).state, 'absent');
    for (const [what, b] of [
      ['version 1', withByte(12, 0x11)],
      ['command 2', withByte(12, 0x22)],
      ['AF_UNIX', withByte(13, 0x31)],
      ['family 4', withByte(13, 0x41)],
      ['DGRAM', withByte(13, 0x12)],
      ['IPv4 in 8 bytes', v2(1, 0x11, Buffer.alloc(8))],
      ['IPv6 in 12 bytes', v2(1, 0x21, Buffer.alloc(12))],
      ['5000 bytes of TLVs', Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0x13, 0x88])])],
    ] as const) assert.equal(parseProxyHeader(b).state, 'invalid', what);
  });
});

let up: Upstream;
let gw: TestGateway;
let port = 0;
let tlsPort = 0;
let ca: RootCa;
let cert: IssuedCert;
/** The request-head bound: a header trickled slower than this is closed by it. */
const HEAD_MS = 1500;

function config(extra: string): string {
  return gatewayDoc([httpListener(port), httpsListener('https', tlsPort, 'eg-cert')], { name: 'eg', className: 'eg' }) +
    tlsSecretYaml('eg-cert', cert) + serviceYaml('backend', [{ port: up.port }]) + egRouteYaml('backend', '/') + extra;
}

/** ClientTrafficPolicy pp on Gateway eg; `body` its spec fields. */
const ctp = (body: string) => policyYaml('ClientTrafficPolicy', 'pp', 'Gateway/eg', body);

async function serve(extra: string): Promise<void> {
  await gw.write(config(extra));
  assert.equal(await gw.instance.reload(), true, 'the configuration loads');
}

before(async () => {
  up = await startUpstream('backend');
  [port, tlsPort] = [await freePort(), await freePort()];
  ca = await makeCa();
  cert = await issueServerCert(ca, { hostnames: ['www.example.com'] });
  gw = await startGateway(config(ctp('proxyProtocol: {}')), { translate: { ...DEFAULT_TRANSLATE_OPTIONS, connection: { ...DEFAULT_CONNECTION, requestHeadersTimeoutMs: HEAD_MS } } });
});

after(async () => {
  await gw?.close();
  await up?.close();
});

const GET = 'GET /get HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n';

/** A connection to `p` writing `chunks` one after the other, in separate packets (the header's reader must wait for the rest). */
const exchange = (p: number, chunks: (string | Buffer)[]): Promise<string> => rawExchange(p, chunks, 20);

/** The client address the upstream was given (the last X-Forwarded-For entry), from the echo in `text`. */
function forwardedFor(text: string): string {
  assert.match(text, /^HTTP\/1\.1 200 /, `answered: ${text.slice(0, 80)}`);
  const at = text.indexOf('\r\n\r\n');
  const body = /\r\ntransfer-encoding: chunked/i.test(text.slice(0, at)) ? dechunk(text.slice(at + 4)) : text.slice(at + 4);
  const echo = JSON.parse(body) as { headers: Record<string, string> };
  return echo.headers['x-forwarded-for'].split(', ').at(-1)!;
}

/** A raw connection that writes `header` first and is then handed to TLS (HTTP/1.1 or h2 by ALPN). */
function tlsAfter(header: string | Buffer, alpn: string[]): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const raw = net.connect(tlsPort, '127.0.0.1', () => {
      raw.write(header);
      const s = tls.connect({ socket: raw, servername: 'www.example.com', ca: ca.certPem, ALPNProtocols: alpn }, () => resolve(s));
      s.once('error', reject);
    });
    raw.once('error', reject);
  });
}

/** GETs /get `n` times at once on an HTTP/2 session, then closes it: the X-Forwarded-For the upstream was given each time. */
async function h2Forwarded(session: http2.ClientHttp2Session, n = 1): Promise<string[]> {
  const get = () => new Promise<string>((resolve, reject) => {
    const req = session.request({ ':path': '/get', ':authority': 'www.example.com' });
    let b = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (b += c));
    req.on('end', () => resolve(JSON.parse(b).headers['x-forwarded-for']));
    req.on('error', reject);
  });
  try {
    return await Promise.all(Array.from({ length: n }, get));
  } finally {
    session.close();
  }
}

/** h2c (prior knowledge) over a raw connection that writes `header` first. */
function h2cAfter(header: string | Buffer): http2.ClientHttp2Session {
  const raw = net.connect(port, '127.0.0.1');
  raw.write(header);
  return http2.connect(`http://127.0.0.1:${port}`, { createConnection: () => raw });
}

describe('proxyProtocol on HTTP/1.1', () => {
  test('v1 TCP4: the source is the client the upstream is told of', async () => {
    assert.equal(forwardedFor(await exchange(port, [V1, GET])), '203.0.113.7');
  });

  test('v1 split over several packets, with the request in the last one', async () => {
    assert.equal(forwardedFor(await exchange(port, ['PROXY TCP', '4 203.0.113.8 10.0.0.1 ', `1 80\r\n${GET}`])), '203.0.113.8');
  });

  test('v2 over IPv6 with a TLV, in the same packet as the request', async () => {
    const h = v2(1, 0x21, inet6('20010db8000000000000000000000042', 5555), TLV);
    assert.equal(forwardedFor(await exchange(port, [Buffer.concat([h, Buffer.from(GET)])])), '2001:db8::42');
  });

  test('v2 LOCAL and v1 UNKNOWN keep the socket\'s own address', async () => {
    assert.equal(forwardedFor(await exchange(port, [v2(0, 0x11, inet('1.2.3.4', '5.6.7.8', 1, 2)), GET])), '127.0.0.1');
    assert.equal(forwardedFor(await exchange(port, ['PROXY UNKNOWN\r\n', GET])), '127.0.0.1');
  });

  test('without optional: no header, a malformed or an oversized one — closed, never answered', async () => {
    for (const chunks of [
      [GET],
      ['PROXY TCP4 203.0.113.7 10.0.0.1 51234\r\n', GET],
      [`PROXY UNKNOWN ${'x'.repeat(200)}`],
      [Buffer.concat([V2_SIGNATURE, Buffer.from([0x21, 0x11, 0xff, 0xff])])],
      [v2(1, 0x31, Buffer.alloc(216)), GET],
    ]) assert.equal(await exchange(port, chunks), '', String(chunks[0]).slice(0, 40));
    // Counted (the first connections this gateway refused), by reason.
    const metrics = await (await fetch(`${gw.adminUrl}/metrics`)).text();
    assert.match(metrics, new RegExp(`portcullis_connections_refused_total\\{port="${port}",reason="proxy_protocol_missing"\\} 1\n`));
    assert.match(metrics, new RegExp(`portcullis_connections_refused_total\\{port="${port}",reason="proxy_protocol_invalid"\\} 4\n`));
    // The listener still serves.
    assert.equal(forwardedFor(await exchange(port, [V1, GET])), '203.0.113.7');
  });

  test('a header trickled a byte at a time is closed at the request-head bound, unanswered', async () => {
    const s = net.connect(port, '127.0.0.1', () => trickle(s, V1));
    let text = '';
    s.on('data', (c: Buffer) => (text += c.toString('latin1')));
    const ms = await closedWithin(s, HEAD_MS + 15_000, 'trickled PROXY header');
    assert.ok(ms >= HEAD_MS - 100, `closed after ${Math.round(ms)} ms, not before the bound`);
    assert.equal(text, '');
  });

  test('h2c (prior knowledge) after a v2 header', async () => {
    assert.deepEqual(await h2Forwarded(h2cAfter(v2(1, 0x11, inet('198.51.100.20', '10.0.0.1', 7000, 80)))), ['198.51.100.20']);
  });
});

describe('proxyProtocol before TLS', () => {
  test('HTTP/1.1 over TLS after a v1 header', async () => {
    const s = await tlsAfter(V1, ['http/1.1']);
    s.write(GET);
    let text = '';
    s.setEncoding('latin1');
    s.on('data', (c: string) => (text += c));
    await new Promise((r) => s.on('close', r));
    assert.equal(forwardedFor(text), '203.0.113.7');
  });

  test('HTTP/2 over TLS after a v2 header: every stream of the session has the source', async () => {
    const s = await tlsAfter(v2(1, 0x11, inet('198.51.100.30', '10.0.0.1', 7001, 443)), ['h2']);
    assert.equal(s.alpnProtocol, 'h2');
    const session = http2.connect('https://www.example.com', { createConnection: () => s });
    assert.deepEqual(await h2Forwarded(session, 2), ['198.51.100.30', '198.51.100.30']);
  });

  test('a ClientHello without the header is closed', async () => {
    const raw = net.connect(tlsPort, '127.0.0.1');
    const s = tls.connect({ socket: raw, servername: 'www.example.com', ca: ca.certPem });
    const failed = await new Promise<boolean>((resolve) => {
      s.once('secureConnect', () => resolve(false));
      s.once('error', () => resolve(true));
      s.once('close', () => resolve(true));
    });
    s.destroy();
    assert.equal(failed, true, 'no handshake without a PROXY header');
  });
});

describe('optional, enableProxyProtocol, and policies that say nothing', () => {
  test('optional: true serves a connection without the header with its own peer, and still reads one', async () => {
    await serve(ctp('proxyProtocol: { optional: true }'));
    assert.equal(forwardedFor(await exchange(port, [GET])), '127.0.0.1');
    assert.equal(forwardedFor(await exchange(port, [V1, GET])), '203.0.113.7');
    // A malformed header is not "no header": still closed.
    assert.equal(await exchange(port, ['PROXY TCP4 nonsense\r\n', GET]), '');
    // h2c's preface starts with "PR" too, TLS with its record byte: both are no header.
    assert.deepEqual(await h2Forwarded(h2cAfter('')), ['127.0.0.1']);
    assert.deepEqual(await h2Forwarded(http2.connect('https://www.example.com', { createConnection: () => tls.connect({ port: tlsPort, host: '127.0.0.1', servername: 'www.example.com', ca: ca.certPem, ALPNProtocols: ['h2'] }) })), ['127.0.0.1']);
    const s = await tlsAfter(V1, ['h2']);
    assert.deepEqual(await h2Forwarded(http2.connect('https://www.example.com', { createConnection: () => s })), ['203.0.113.7']);
  });

  test('enableProxyProtocol: true (deprecated) requires the header; the status names neither field as unsupported', async () => {
    await serve(ctp('enableProxyProtocol: true'));
    assert.equal(await exchange(port, [GET]), '');
    assert.equal(forwardedFor(await exchange(port, [V1, GET])), '203.0.113.7');
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/pp');
    assert.ok(!JSON.stringify(st).includes('UnsupportedFields'), JSON.stringify(st));
  });

  test('without the setting the header is not read: it is a bad request line', async () => {
    await serve(ctp('enableProxyProtocol: false'));
    assert.match(await exchange(port, [V1, GET]), /^HTTP\/1\.1 400 /);
    assert.equal(forwardedFor(await exchange(port, [GET])), '127.0.0.1');
  });

  test('SecurityPolicy clientCIDRs decides on the PROXY source', async () => {
    await serve(ctp('proxyProtocol: {}') + policyYaml('SecurityPolicy', 'allow-lb-clients', 'HTTPRoute/backend', `authorization:
  defaultAction: Deny
  rules:
  - action: Allow
    principal:
      clientCIDRs: [203.0.113.0/24]`));
    assert.equal(forwardedFor(await exchange(port, [V1, GET])), '203.0.113.7');
    assert.match(await exchange(port, ['PROXY TCP4 198.51.100.1 10.0.0.1 1 80\r\n', GET]), /^HTTP\/1\.1 403 /);
    assert.match(await exchange(port, [v2(0, 0x11, Buffer.alloc(12)), GET]), /^HTTP\/1\.1 403 /, 'LOCAL: the peer 127.0.0.1 is not allowed');
  });

  test('Istio remoteIpBlocks and ipBlocks both see the PROXY source (it is the downstream peer, as in Envoy)', async () => {
    await serve(ctp('proxyProtocol: {}') + istioSelectorYaml('AuthorizationPolicy', 'default/edge-deny', 'gateway.networking.k8s.io/gateway-name: eg', `action: DENY
rules:
- from: [{ source: { remoteIpBlocks: [203.0.113.0/24] } }]
- from: [{ source: { ipBlocks: [198.51.100.0/24] } }]`));
    assert.match(await exchange(port, [V1, GET]), /^HTTP\/1\.1 403 /, 'remoteIpBlocks');
    assert.match(await exchange(port, ['PROXY TCP4 198.51.100.1 10.0.0.1 1 80\r\n', GET]), /^HTTP\/1\.1 403 /, 'ipBlocks');
    assert.equal(forwardedFor(await exchange(port, ['PROXY TCP4 192.0.2.1 10.0.0.1 1 80\r\n', GET])), '192.0.2.1');
  });

  test('clientIPDetection trusts X-Forwarded-For from a PROXY source in trustedCIDRs only', async () => {
    await serve(ctp(`proxyProtocol: {}
clientIPDetection:
  xForwardedFor: { trustedCIDRs: [203.0.113.0/24] }`) + policyYaml('SecurityPolicy', 'allow-office', 'HTTPRoute/backend', `authorization:
  defaultAction: Deny
  rules:
  - action: Allow
    principal:
      clientCIDRs: [192.0.2.0/24]`));
    const viaXff = GET.replace('\r\n\r\n', '\r\nX-Forwarded-For: 192.0.2.50\r\n\r\n');
    assert.match(await exchange(port, [V1, viaXff]), /^HTTP\/1\.1 200 /, 'a trusted proxy names the client');
    assert.match(await exchange(port, ['PROXY TCP4 198.51.100.1 10.0.0.1 1 80\r\n', viaXff]), /^HTTP\/1\.1 403 /, 'an untrusted source cannot');
  });
});

describe('--workers 2', () => {
  let cli: Running | undefined;
  let dir = '';
  after(async () => {
    await cli?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('each worker reads the headers of the connections it accepts; the access log names the PROXY source', async () => {
    const wport = await freePort();
    dir = await mkdtemp(join(tmpdir(), 'portcullis-pp-'));
    const file = join(dir, 'gw.yaml');
    await writeFile(file, gatewayDoc([httpListener(wport)], { name: 'eg', className: 'eg' }) + serviceYaml('backend', [{ port: up.port }]) +
      egRouteYaml('backend', '/') + ctp('proxyProtocol: {}'));
    cli = startCli(['run', '-f', file, '--workers', '2', '--bind', '127.0.0.1', '--admin', '127.0.0.1:0']);
    await cli.waitFor(new RegExp(`listening on http://127\\.0\\.0\\.1:${wport}`), 90_000);
    const n = 16;
    const seen = await Promise.all(Array.from({ length: n }, (_, i) =>
      exchange(wport, [`PROXY TCP4 203.0.113.${i + 1} 10.0.0.1 ${40000 + i} 80\r\n`, GET.replace('\r\n\r\n', `\r\nX-Request-Id: pp-${i}\r\n\r\n`)])));
    assert.deepEqual(seen.map(forwardedFor), Array.from({ length: n }, (_, i) => `203.0.113.${i + 1}`));
    for (let i = 0; i < n; i++) {
      const entry = JSON.parse(await cli.waitFor(new RegExp(`\\{[^\\n]*"request_id":"pp-${i}"[^\\n]*\\}`)));
      assert.equal(entry.client, `203.0.113.${i + 1}`);
    }
    assert.equal(await exchange(wport, [GET]), '', 'no header: closed');
  });
});
