// ClientTrafficPolicy tls.fingerprints (JA3 / JA4 of the ClientHello).
// The parser and both fingerprints first, over a ClientHello built from a
// published vector (a Chrome 143 hello as browserleaks.com reports it: ja3
// text and hash, ja4 and its raw original-order form), with GREASE added and
// split over two records; then over a ClientHello Node's tls.connect really
// sends (captured by a raw server). Then the gateway over real TLS: what
// earlyRequestHeaders' %TLS_JA3_FINGERPRINT% / %TLS_JA4_FINGERPRINT% give the
// upstream equals the fingerprint of the same client's captured hello
// (OpenSSL sends the same extensions each time), over HTTP/1.1, HTTP/2 and
// after a PROXY protocol header; the access log's tls_ja3_fingerprint /
// tls_ja4_fingerprint fields (a real `portcullis run`).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import tls from 'node:tls';
import http from 'node:http';
import http2 from 'node:http2';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './helpers/ports.ts';
import { closedWithin } from './helpers/sockets.ts';
import { statusOf } from './helpers/eg-quickstart.ts';
import { ctpOnTls, edgeTlsRequest, edgeTlsYaml, serveEdgeTls, startEdgeTlsSite, type EdgeTlsSite } from './helpers/edge-tls.ts';
import { runCli, startCli, type Running } from './helpers/cli.ts';
import { ja3, ja3Text, ja4, readClientHello, type ClientHello } from '../src/dataplane/client-hello.ts';

const u16 = (...v: number[]): Buffer => Buffer.concat(v.map((x) => Buffer.from([x >> 8, x & 0xff])));
/** A length-prefixed vector (`n` bytes of length). */
const vec = (n: 1 | 2, body: Buffer): Buffer => Buffer.concat([n === 1 ? Buffer.from([body.length]) : u16(body.length), body]);

/** A ClientHello handshake message (legacy version 0x0303), in TLS records of at most `recordSize` bytes. */
function helloBytes(ciphers: number[], extensions: [number, Buffer][], recordSize = 16_384): Buffer {
  const ext = Buffer.concat(extensions.map(([t, d]) => Buffer.concat([u16(t), vec(2, d)])));
  const body = Buffer.concat([u16(0x0303), Buffer.alloc(32, 7), vec(1, Buffer.alloc(32, 1)), vec(2, u16(...ciphers)), vec(1, Buffer.from([0])), vec(2, ext)]);
  const hs = Buffer.concat([Buffer.from([1, 0, body.length >> 8, body.length & 0xff]), body]);
  const records: Buffer[] = [];
  for (let at = 0; at < hs.length; at += recordSize) records.push(Buffer.concat([Buffer.from([0x16, 0x03, 0x01]), vec(2, hs.subarray(at, at + recordSize))]));
  return Buffer.concat(records);
}

const alpnList = (...names: string[]): Buffer => vec(2, Buffer.concat(names.map((n) => vec(1, Buffer.from(n)))));
const GREASE = 0x3a3a;
// browserleaks.com's report of Chrome 143: ja4_ro's ciphers and extensions, in the client's order.
const CHROME_CIPHERS = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
const CHROME_SIGALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];
const chromeExtensions = (): [number, Buffer][] => {
  const data: Record<number, Buffer> = {
    0x0010: alpnList('h2', 'http/1.1'),
    0x0000: vec(2, Buffer.concat([Buffer.from([0]), vec(2, Buffer.from('tls.browserleaks.com'))])),
    0x000b: vec(1, Buffer.from([0])),
    0x000a: vec(2, u16(GREASE, 4588, 29, 23, 24)),
    0x002b: vec(1, u16(GREASE, 0x0304, 0x0303)),
    0x000d: vec(2, u16(...CHROME_SIGALGS)),
  };
  const order = [0x002d, 0x0033, 0x0010, 0xfe0d, 0x0017, 0x44cd, 0x0000, 0x000b, 0x000a, 0x002b, 0xff01, 0x0023, 0x0012, 0x0005, 0x000d, 0x001b];
  return [[GREASE, Buffer.alloc(0)], ...order.map((t): [number, Buffer] => [t, data[t] ?? Buffer.alloc(0)]), [0x1a1a, Buffer.from([0])]];
};

function parsed(buf: Buffer): ClientHello {
  const r = readClientHello(buf);
  assert.equal(r.state, 'done');
  return (r as { hello: ClientHello }).hello;
}

describe('ClientHello fingerprints', () => {
  test('a published vector (Chrome 143): JA3 text and hash, JA4; GREASE left out; one record or two', () => {
    for (const recordSize of [16_384, 200]) {
      const h = parsed(helloBytes([GREASE, ...CHROME_CIPHERS], chromeExtensions(), recordSize));
      assert.equal(ja3Text(h), '771,4865-4866-4867-49195-49199-49196-49200-52393-52392-49171-49172-156-157-47-53,45-51-16-65037-23-17613-0-11-10-43-65281-35-18-5-13-27,4588-29-23-24,0');
      assert.equal(ja3(h), '98487aa16281980e7d1120d399efb6a4');
      assert.equal(ja4(h), 't13d1516h2_8daaf6152771_d8a2da3f94cd');
    }
  });

  test('no SNI, no ALPN, no signature algorithms, no supported_versions: "i", "00", the extensions hashed alone, the legacy version', () => {
    const h = parsed(helloBytes([0x002f], [[0x0017, Buffer.alloc(0)]]));
    // sha256("002f") and sha256("0017"), cut to 12.
    assert.equal(ja4(h), 't12i010100_ba72b8082249_1ca028f07214');
    assert.equal(ja3Text(h), '771,47,23,,');
    // Only SNI and ALPN: nothing left to hash in JA4's third part; an ALPN value not alphanumeric at its ends: its hex's ends ("0178").
    assert.equal(ja4(parsed(helloBytes([0x002f], [[0x0000, Buffer.alloc(0)], [0x0010, alpnList('\x01x')]]))), 't12d010208_ba72b8082249_000000000000');
  });

  test('prefixes are partial; what is not a ClientHello, or a malformed one, gives none', () => {
    const whole = helloBytes(CHROME_CIPHERS, chromeExtensions(), 100);
    for (const n of [0, 3, 5, 104, 105, 106, whole.length - 1]) assert.equal(readClientHello(whole.subarray(0, n)).state, 'partial', `${n} bytes`);
    for (const bad of [Buffer.from('GET / HTTP/1.1\r\n'), Buffer.from('PRI * HTTP/2.0\r\n'), Buffer.from([0x15, 0x03, 0x01, 0, 2, 2, 40]), Buffer.from([0x16, 0x03, 0x01, 0, 4, 2, 0, 0, 0])]) {
      assert.equal(readClientHello(bad).state, 'none', bad.toString('hex'));
    }
    // A cipher list longer than the message; an extension longer than the list.
    const truncated = Buffer.from(whole);
    truncated.writeUInt16BE(0xfff0, 5 + 4 + 2 + 32 + 33);
    assert.equal(readClientHello(truncated).state, 'none');
    const h = helloBytes([0x002f], [[0x0017, Buffer.alloc(4)]]);
    h.writeUInt16BE(40, h.length - 6);
    assert.equal(readClientHello(h).state, 'none');
    // A handshake message larger than the bound is not read to its end.
    const huge = Buffer.from([0x16, 0x03, 0x01, 0x00, 0x04, 0x01, 0x01, 0x00, 0x00]);
    assert.equal(readClientHello(huge).state, 'none');
  });
});

/** The first bytes `opts` make Node's tls.connect send, read by a raw server: its ClientHello. */
async function capturedHello(opts: tls.ConnectionOptions): Promise<ClientHello> {
  let resolveHello!: (h: ClientHello) => void;
  const got = new Promise<ClientHello>((r) => (resolveHello = r));
  const server = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const r = readClientHello(buf);
      if (r.state === 'partial') return;
      assert.equal(r.state, 'done');
      resolveHello((r as { hello: ClientHello }).hello);
      s.destroy();
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const c = tls.connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ...opts });
  c.on('error', () => {});
  try {
    return await got;
  } finally {
    c.destroy();
    server.close();
  }
}

// What the gateway tests' clients send (edgeTlsRequest: https.request without ALPN; http2.connect: h2).
const HTTPS_CLIENT: tls.ConnectionOptions = { servername: 'www.example.com' };
const H2_CLIENT: tls.ConnectionOptions = { servername: 'www.example.com', ALPNProtocols: ['h2'] };

test('a ClientHello Node really sends: SNI, ALPN, TLS 1.3 by supported_versions, the groups and signature algorithms asked for', async () => {
  const h = await capturedHello({ ...H2_CLIENT, ecdhCurve: 'X25519:P-256', sigalgs: 'ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256' });
  assert.equal(h.sni, true);
  assert.equal(h.alpn?.toString(), 'h2');
  assert.ok(h.supportedVersions.includes(0x0304));
  assert.deepEqual(h.signatureAlgorithms, [0x0403, 0x0804]);
  const [version, ciphers, extensions, groups] = ja3Text(h).split(',');
  assert.equal(version, '771');
  assert.equal(groups, '29-23');
  assert.ok(extensions.split('-').includes('0') && extensions.split('-').includes('16'));
  const print = ja4(h);
  assert.match(print, /^t13d\d{4}h2_[0-9a-f]{12}_[0-9a-f]{12}$/);
  assert.equal(print.slice(4, 6), String(ciphers.split('-').length).padStart(2, '0'));
  assert.equal(print.slice(6, 8), String(extensions.split('-').length).padStart(2, '0'));
});

let site: EdgeTlsSite;
let stop: (() => Promise<void>) | undefined;
before(async () => void ({ site, close: stop } = await startEdgeTlsSite()));
after(() => stop?.());

const EARLY = `  headers:
    earlyRequestHeaders:
      set: [{ name: x-ja3, value: "%TLS_JA3_FINGERPRINT%" }]
      add: [{ name: x-ja4, value: "ja4=%TLS_JA4_FINGERPRINT%;" }]`;
const fingerprinting = (extra = '') => ctpOnTls(`  tls: { fingerprints: [JA3, JA4] }\n${EARLY}${extra}`);

/** The request headers the upstream saw for one GET over `socket` (HTTP/1.1 on a TLS socket already connected). */
function getOver(socket: tls.TLSSocket): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    let text = '';
    socket.setEncoding('latin1');
    socket.on('data', (c: string) => (text += c));
    socket.on('error', reject);
    socket.on('end', () => {
      const body = text.slice(text.indexOf('\r\n\r\n') + 4);
      resolve((JSON.parse(body.slice(body.indexOf('{'), body.lastIndexOf('}') + 1)) as { headers: Record<string, string> }).headers);
    });
    socket.write('GET /get HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n');
  });
}

describe('tls.fingerprints on the gateway', () => {
  test('HTTP/1.1: the upstream gets the fingerprints of the client hello; the policy reports nothing unserved', async () => {
    await serveEdgeTls(site, fingerprinting());
    const expected = await capturedHello(HTTPS_CLIENT);
    const r = await edgeTlsRequest(site, '/get');
    assert.equal(r.status, 200);
    const seen = JSON.parse(r.body).headers as Record<string, string>;
    assert.equal(seen['x-ja3'], ja3(expected));
    assert.equal(seen['x-ja4'], `ja4=${ja4(expected)};`);
    const st = await statusOf(site.gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('HTTP/2 by ALPN: every stream of the connection carries them', async () => {
    await serveEdgeTls(site, fingerprinting());
    const expected = ja4(await capturedHello(H2_CLIENT));
    assert.match(expected, /h2_/);
    const session = http2.connect(`https://127.0.0.1:${site.tlsPort}`, { ...H2_CLIENT, ca: site.ca.certPem });
    try {
      for (let i = 0; i < 2; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          const s = session.request({ ':path': '/get', ':authority': 'www.example.com' });
          let b = '';
          s.setEncoding('utf8');
          s.on('data', (c: string) => (b += c));
          s.on('end', () => resolve(b));
          s.on('error', reject);
        });
        assert.equal(JSON.parse(body).headers['x-ja4'], `ja4=${expected};`);
      }
    } finally {
      session.close();
    }
  });

  test('after a PROXY protocol header: the hello that follows it is fingerprinted', async () => {
    await serveEdgeTls(site, fingerprinting('\n  proxyProtocol: {}'));
    const expected = ja3(await capturedHello({ ...HTTPS_CLIENT, ALPNProtocols: ['http/1.1'] }));
    const raw = net.connect(site.tlsPort, '127.0.0.1');
    await new Promise<void>((r) => raw.once('connect', r));
    raw.write('PROXY TCP4 203.0.113.7 10.0.0.1 51234 443\r\n');
    const s = tls.connect({ socket: raw, ...HTTPS_CLIENT, ALPNProtocols: ['http/1.1'], ca: site.ca.certPem });
    await new Promise<void>((r, j) => s.once('secureConnect', r).once('error', j));
    const seen = await getOver(s);
    assert.equal(seen['x-ja3'], expected);
    assert.equal(seen['x-forwarded-for'], '203.0.113.7');
  });

  test('without fingerprints the operators are empty and the headers not set; what is not TLS is refused by TLS, not the peek', async () => {
    await serveEdgeTls(site, ctpOnTls(EARLY));
    const seen = JSON.parse((await edgeTlsRequest(site, '/get')).body).headers as Record<string, string>;
    assert.equal(seen['x-ja3'], undefined);
    assert.equal(seen['x-ja4'], 'ja4=;');
    await serveEdgeTls(site, fingerprinting());
    const raw = net.connect(site.tlsPort, '127.0.0.1');
    raw.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    await closedWithin(raw, 5000, 'plain HTTP on the TLS port');
    assert.equal((await edgeTlsRequest(site, '/get')).status, 200, 'the gateway still serves');
  });

  test('a value that is not JA3 or JA4 is refused with a clear message', async () => {
    await site.gw.write(edgeTlsYaml(site, ctpOnTls('  tls: { fingerprints: [JA5] }')));
    assert.equal(await site.gw.instance.reload(), false);
    const r = await runCli(['validate', '-f', site.gw.file]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout + r.stderr, /fingerprints[^\n]*JA5|JA5[^\n]*fingerprints/);
  });
});

describe('access log (portcullis run)', () => {
  let cli: Running | undefined;
  let dir = '';
  after(async () => {
    await cli?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('tls_ja3_fingerprint / tls_ja4_fingerprint on a listener that computes them, none elsewhere', async () => {
    const other: EdgeTlsSite = { ...site, port: await freePort(), tlsPort: await freePort() };
    dir = await mkdtemp(join(tmpdir(), 'portcullis-fp-'));
    const file = join(dir, 'gw.yaml');
    await writeFile(file, edgeTlsYaml(other, ctpOnTls('  tls: { fingerprints: [JA4] }')));
    cli = startCli(['run', '-f', file, '--workers', '1', '--bind', '127.0.0.1', '--admin', '127.0.0.1:0']);
    await cli.waitFor(new RegExp(`listening on https://127\\.0\\.0\\.1:${other.tlsPort}`), 60_000);
    const expected = ja4(await capturedHello(HTTPS_CLIENT));
    assert.equal((await edgeTlsRequest(other, '/get', { headers: { 'x-request-id': 'fp-tls' } })).status, 200);
    const entry = JSON.parse(await cli.waitFor(/\{[^\n]*"request_id":"fp-tls"[^\n]*\}/));
    assert.equal(entry.tls_ja4_fingerprint, expected);
    assert.equal(entry.tls_ja3_fingerprint, undefined, 'JA3 was not asked for');
    const plain = await new Promise<number>((resolve, reject) => {
      http.get({ host: '127.0.0.1', port: other.port, path: '/get', headers: { host: 'www.example.com', 'x-request-id': 'fp-plain' } }, (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode!));
      }).on('error', reject);
    });
    assert.equal(plain, 200);
    const line = JSON.parse(await cli.waitFor(/\{[^\n]*"request_id":"fp-plain"[^\n]*\}/));
    assert.equal(line.tls_ja4_fingerprint, undefined);
  });
});
