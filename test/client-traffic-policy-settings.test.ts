// ClientTrafficPolicy settings beyond client IP detection and client
// validation, over real sockets: Envoy Gateway's task pages (client traffic
// policy, connection limit) with their YAML as written, and the other fields
// with the answers Envoy Gateway gives. One gateway, reloaded per case.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import http2 from 'node:http2';
import tls from 'node:tls';
import { createHash, X509Certificate } from 'node:crypto';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { startUpstream, type Upstream } from './helpers/upstream.ts';
import { freePort } from './helpers/ports.ts';
import { egQuickstart, egRequest, statusOf } from './helpers/eg-quickstart.ts';
import { policyYaml } from './helpers/yaml.ts';
import { ctpOnTls, edgeHandshake, edgeTlsRequest, quotedPem, serveEdgeTls, type EdgeTlsSite } from './helpers/edge-tls.ts';
import { parseYamlResources } from '../src/resources/load.ts';
import { translate, DEFAULT_TRANSLATE_OPTIONS } from '../src/translate/index.ts';
import { makeCa, issueServerCert, issueClientCert, type IssuedCert, type RootCa } from './helpers/certs.ts';

let up: Upstream;
let gw: TestGateway;
let port = 0;
let tlsPort = 0;
/** The HTTPS listener's CA and certificate (www.example.com); the client CA and the certificate it issued alice. */
let pki: { ca: RootCa; serverCert: IssuedCert; clientCa: RootCa; clientCert: IssuedCert };

async function makePki(): Promise<typeof pki> {
  const [ca, clientCa] = [await makeCa(), await makeCa({ commonName: 'client-ca' })];
  return {
    ca,
    serverCert: await issueServerCert(ca, { hostnames: ['www.example.com'] }),
    clientCa,
    clientCert: await issueClientCert(clientCa, { commonName: 'alice', uris: ['spiffe://example.com/alice'], dnsNames: ['alice.example.com'] }),
  };
}

before(async () => {
  up = await startUpstream('backend');
  [port, tlsPort] = [await freePort(), await freePort()];
  pki = await makePki();
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

/** ClientTrafficPolicy default/`name` on Gateway eg; `body` is its spec fields, unindented. */
const ctp = (name: string, body: string) => policyYaml('ClientTrafficPolicy', name, 'Gateway/eg', body);

/** The client traffic policy task's client-timeout policy as written (no namespace: the file's default is "default"), with one timeout.http field. */
const clientTimeoutTask = (httpField: string) => `---
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
      ${httpField}
`;

describe('timeout.http (client traffic policy task)', () => {
  test('requestReceivedTimeout: 2s — a request whose body never comes is 408 "request timeout" after 2 s, the connection closed', async () => {
    await serve(clientTimeoutTask('requestReceivedTimeout: 2s'));
    assert.equal((await egRequest(port, '/get')).status, 200, 'a whole request is served');
    const c = await rawConnection();
    c.socket.write('GET /get HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 10000\r\n\r\n');
    const ms = await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.match(c.text(), /\r\ncontent-type: text\/plain\r\n/i);
    assert.match(c.text(), /\r\n\r\nrequest timeout$/);
    assert.ok(ms >= 1900 && ms < 8000, `closed after ${Math.round(ms)} ms`);
  });

  test('requestReceivedTimeout holds for an `Expect: 100-continue` request too: 100, then 408 when its body never comes', async () => {
    const c = await rawConnection();
    c.socket.write('POST /post HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 10000\r\nExpect: 100-continue\r\n\r\n');
    const ms = await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 100 Continue\r\n\r\nHTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(ms >= 1900 && ms < 8000, `closed after ${Math.round(ms)} ms`);
  });

  test('a slow upstream is not the client: a request received whole is answered however late', async () => {
    // Still the 2 s policy: the request was received; the answer takes 2.5 s.
    const r = await egRequest(port, '/delay/2500');
    assert.equal(r.status, 200);
  });

  test('streamIdleTimeout: 1s — no byte either way for 1 s: 408 "stream timeout" (a body that stops, a silent upstream); a steady drip is not idle', async () => {
    await serve(clientTimeoutTask('streamIdleTimeout: 1s'));
    const c = await rawConnection();
    c.socket.write('POST /post HTTP/1.1\r\nHost: www.example.com\r\nContent-Length: 100\r\n\r\nhalf');
    const ms = await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 408 Request Timeout\r\n[^]*\r\n\r\nstream timeout$/);
    assert.ok(ms >= 900 && ms < 6000, `closed after ${Math.round(ms)} ms`);
    // Envoy counts the wait for the upstream's answer as idle too.
    const silent = await egRequest(port, '/delay/3000');
    assert.deepEqual([silent.status, silent.body], [408, 'stream timeout']);
    // Six chunks 400 ms apart: 2.4 s in all, never 1 s without a byte.
    const drip = await egRequest(port, '/drip/6/400');
    assert.deepEqual([drip.status, drip.body], [200, '......']);
  });

  test('streamIdleTimeout cuts an answer that stops midway (its head is out: no 408 can follow)', async () => {
    const c = await rawConnection();
    c.socket.write('GET /drip/2/3000 HTTP/1.1\r\nHost: www.example.com\r\n\r\n');
    const ms = await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 200 OK\r\n/);
    assert.doesNotMatch(c.text(), /408/);
    assert.ok(ms >= 900 && ms < 2900, `cut after ${Math.round(ms)} ms, before the upstream's second chunk`);
  });

  test('idleTimeout: 5s — a connection with no request in flight is closed after 5 s', async () => {
    await serve(clientTimeoutTask('idleTimeout: 5s'));
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
    await serve(ctp('connection-limit-ctp', `connection:
  connectionLimit: { value: 1, closeDelay: 1s }
`));
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
    await serve(ctp('unserved', `timeout:
  tcp: { idleTimeout: 1h }
  http: { idleTimeout: 1h, streamIdleTimeout: 5m }
connection:
  socketBufferLimit: 32Ki
  bufferLimit: 32Ki
`));
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/unserved');
    const cond = st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields');
    assert.ok(cond, JSON.stringify(st));
    assert.match(cond.message, /timeout\.tcp \(/);
    assert.match(cond.message, /connection\.socketBufferLimit \(Node cannot/);
    assert.doesNotMatch(cond.message, /bufferLimit: |timeout\.http\.idleTimeout|timeout\.http\.streamIdleTimeout|connection\.bufferLimit/);
  });
});

/** What the upstream saw for the last request. */
const lastSeen = () => up.seen[up.seen.length - 1];

const ctpHeaders = (headers: string) => ctp('headers', `headers:\n${headers}`);

describe('headers', () => {
  test('withUnderscoresAction: RejectRequest is 400, DropHeader removes the header before any filter, Allow passes it', async () => {
    await serve(ctpHeaders('    withUnderscoresAction: RejectRequest'));
    const refused = await egRequest(port, '/get', { x_tenant: 'a' });
    assert.equal(refused.status, 400);
    assert.equal((await egRequest(port, '/get', { 'x-tenant': 'a' })).status, 200, 'dashes are fine');
    await serve(ctpHeaders('    withUnderscoresAction: DropHeader'));
    assert.equal((await egRequest(port, '/get', { x_tenant: 'a', 'x-kept': '1' })).status, 200);
    assert.equal(lastSeen().headers.x_tenant, undefined);
    assert.equal(lastSeen().headers['x-kept'], '1');
    await serve(ctpHeaders('    withUnderscoresAction: Allow'));
    await egRequest(port, '/get', { x_tenant: 'a' });
    assert.equal(lastSeen().headers.x_tenant, 'a');
  });

  test('requestID: Generate replaces the client\'s, Preserve keeps it (none when absent), Disable sends none, PreserveOrGenerate', async () => {
    const sent = { 'x-request-id': 'client-chosen-id' };
    await serve(ctpHeaders('    requestID: Generate'));
    await egRequest(port, '/get', sent);
    assert.match(String(lastSeen().headers['x-request-id']), /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await serve(ctpHeaders('    requestID: Preserve'));
    await egRequest(port, '/get', sent);
    assert.equal(lastSeen().headers['x-request-id'], 'client-chosen-id');
    await egRequest(port, '/get');
    assert.equal(lastSeen().headers['x-request-id'], undefined, 'Preserve does not generate');
    await serve(ctpHeaders('    requestID: Disable'));
    await egRequest(port, '/get', sent);
    assert.equal(lastSeen().headers['x-request-id'], undefined, 'Disable neither keeps nor generates');
    await serve(ctpHeaders('    requestID: PreserveOrGenerate'));
    await egRequest(port, '/get', sent);
    assert.equal(lastSeen().headers['x-request-id'], 'client-chosen-id');
    await egRequest(port, '/get');
    assert.match(String(lastSeen().headers['x-request-id']), /^[0-9a-f-]{36}$/);
    // The deprecated switch: true keeps the client's.
    await serve(ctpHeaders('    preserveXRequestID: true'));
    await egRequest(port, '/get', sent);
    assert.equal(lastSeen().headers['x-request-id'], 'client-chosen-id');
  });

  test('earlyRequestHeaders apply before routing: the header they set picks the route; lateResponseHeaders apply to every answer', async () => {
    await serve(`${ctpHeaders(`    earlyRequestHeaders:
      set: [{ name: X-Tenant, value: gold }]
      add: [{ name: X-Early, value: added }]
      remove: [x-secret]
    lateResponseHeaders:
      set: [{ name: X-Served-By, value: portcullis }]
      remove: [x-backend]`)}---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: gold, namespace: default }
spec:
  parentRefs: [{ name: eg }]
  hostnames: ["www.example.com"]
  rules:
    - matches: [{ path: { type: PathPrefix, value: / }, headers: [{ name: x-tenant, value: gold }] }]
      filters: [{ type: RequestHeaderModifier, requestHeaderModifier: { set: [{ name: x-route, value: gold }] } }]
      backendRefs: [{ name: backend, port: 3000 }]
`);
    const r = await egRequest(port, '/get', { 'x-tenant': 'basic', 'x-secret': 's', 'x-early': 'client' });
    assert.equal(r.status, 200);
    const seen = lastSeen().headers;
    assert.equal(seen['x-route'], 'gold', 'routed on the header the policy set');
    assert.equal(seen['x-tenant'], 'gold');
    assert.equal(seen['x-early'], 'client,added');
    assert.equal(seen['x-secret'], undefined);
    assert.equal(r.headers['x-served-by'], 'portcullis');
    assert.equal(r.headers['x-backend'], undefined, 'removed from the backend\'s answer');
    const noRoute = await egRequest(port, '/get', { host: 'other.example.com' });
    assert.equal(noRoute.status, 404);
    assert.equal(noRoute.headers['x-served-by'], 'portcullis', 'the gateway\'s own answers too');
  });
});

/** The TLS site: the gateway with its HTTPS listener on tlsPort, the certificates of pki. */
const site = (): EdgeTlsSite => ({ gw, port, tlsPort, upstreamPort: up.port, ca: pki.ca, serverCert: pki.serverCert, clientCaPem: pki.clientCa.certPem });
const serveTls = (extra: string) => serveEdgeTls(site(), extra);
/** One HTTPS/1.1 request to the TLS listener as www.example.com, with alice's certificate when `withCert`. */
const tlsRequest = (path: string, opts: { withCert?: boolean; headers?: Record<string, string>; tls?: tls.ConnectionOptions } = {}) =>
  edgeTlsRequest(site(), path, { ...opts, cert: opts.withCert ? pki.clientCert : undefined });

const CLIENT_VALIDATION = `  tls:
    clientValidation:
      caCertificateRefs: [{ kind: ConfigMap, name: client-ca }]`;

describe('headers.xForwardedClientCert (over mTLS)', () => {
  const forged = { 'x-forwarded-client-cert': 'Hash=forged;Subject="CN=mallory"' };
  const hash = () => createHash('sha256').update(new X509Certificate(pki.clientCert.certPem).raw).digest('hex');

  test('Sanitize (the default) removes the client\'s XFCC; SanitizeSet replaces it with this hop\'s element (Hash, Subject, URI, DNS)', async () => {
    await serveTls(ctpOnTls(CLIENT_VALIDATION));
    assert.equal((await tlsRequest('/get', { withCert: true, headers: forged })).status, 200);
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], undefined);
    await serveTls(ctpOnTls(`${CLIENT_VALIDATION}
  headers:
    xForwardedClientCert:
      mode: SanitizeSet
      certDetailsToAdd: [Subject, URI, DNS]`));
    assert.equal((await tlsRequest('/get', { withCert: true, headers: forged })).status, 200);
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], `Hash=${hash()};Subject="CN=alice";URI=spiffe://example.com/alice;DNS=alice.example.com`);
  });

  test('AppendForward appends this hop\'s element; ForwardOnly keeps the client\'s on mTLS; AlwaysForwardOnly keeps it whatever the connection', async () => {
    await serveTls(ctpOnTls(`${CLIENT_VALIDATION}
  headers:
    xForwardedClientCert: { mode: AppendForward, certDetailsToAdd: [Subject] }`));
    await tlsRequest('/get', { withCert: true, headers: forged });
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], `${forged['x-forwarded-client-cert']},Hash=${hash()};Subject="CN=alice"`);
    await serveTls(ctpOnTls(`${CLIENT_VALIDATION}
  headers:
    xForwardedClientCert: { mode: ForwardOnly }`));
    await tlsRequest('/get', { withCert: true, headers: forged });
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], forged['x-forwarded-client-cert']);
    await serveTls(ctpOnTls(`  headers:
    xForwardedClientCert: { mode: AlwaysForwardOnly }`));
    await tlsRequest('/get', { headers: forged });
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], forged['x-forwarded-client-cert'], 'no client certificate, kept all the same');
    await serveTls(ctpOnTls(`  headers:
    xForwardedClientCert: { mode: ForwardOnly }`));
    await tlsRequest('/get', { headers: forged });
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], undefined, 'ForwardOnly without mTLS: removed');
  });

  test('Cert and Chain: the URL-encoded PEM of the certificate, and of the chain it came with (a root alone: the certificate); certDetailsToAdd without AppendForward/SanitizeSet is refused', async () => {
    await serveTls(ctpOnTls(`${CLIENT_VALIDATION}
  headers:
    xForwardedClientCert: { mode: SanitizeSet, certDetailsToAdd: [Cert, Chain] }`));
    assert.equal((await tlsRequest('/get', { withCert: true })).status, 200);
    const pem = quotedPem([pki.clientCert.certPem]);
    assert.equal(lastSeen().headers['x-forwarded-client-cert'], `Hash=${hash()};Cert=${pem};Chain=${pem}`);
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
    await gw.write(egQuickstart(port, up.port, { extra: ctpOnTls(`  headers:
    xForwardedClientCert: { mode: Sanitize, certDetailsToAdd: [Subject] }`) }));
    assert.equal(await gw.instance.reload(), false, 'refused at validation');
  });
});

describe('timeout.http over HTTP/2: the stream, not the session', () => {
  for (const [field, body] of [['requestReceivedTimeout', 'request timeout'], ['streamIdleTimeout', 'stream timeout']]) {
    test(`${field}: a stream whose body stops is answered 408 "${body}" and reset; the session serves other streams meanwhile`, async () => {
      await serveTls(ctpOnTls(`  timeout:
    http: { ${field}: 1s }`));
      const session = http2.connect(`https://www.example.com:${tlsPort}`, { ca: pki.ca.certPem, host: '127.0.0.1', servername: 'www.example.com', lookup: (_h, _o, cb) => cb(null, '127.0.0.1', 4) } as http2.SecureClientSessionOptions);
      try {
        const start = performance.now();
        const stalled = session.request({ ':method': 'POST', ':path': '/post', 'content-length': '100' });
        stalled.write('ten bytes.');
        const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
          let status = 0;
          let body = '';
          stalled.on('response', (h) => (status = Number(h[':status'])));
          stalled.setEncoding('utf8');
          stalled.on('data', (c: string) => (body += c));
          stalled.on('close', () => resolve({ status, body }));
          stalled.on('error', reject);
        });
        const other = session.request({ ':path': '/get' });
        other.resume();
        const otherStatus = await new Promise<number>((r) => other.on('response', (h) => r(Number(h[':status']))));
        assert.equal(otherStatus, 200, 'the session keeps serving');
        const r = await answer;
        const ms = performance.now() - start;
        assert.deepEqual(r, { status: 408, body });
        assert.ok(ms >= 900 && ms < 8000, `after ${Math.round(ms)} ms`);
      } finally {
        session.destroy();
      }
    });
  }
});

const handshake = (opts: tls.ConnectionOptions = {}) => edgeHandshake(site(), opts);

describe('tls', () => {
  test('minVersion 1.3 refuses a TLS 1.2 client; maxVersion 1.2 caps the version', async () => {
    await serveTls(ctpOnTls(`  tls: { minVersion: "1.3" }`));
    assert.equal((await handshake()).protocol, 'TLSv1.3');
    assert.ok((await handshake({ maxVersion: 'TLSv1.2' })).error, 'a TLS 1.2 client is refused');
    await serveTls(ctpOnTls(`  tls: { maxVersion: "1.2" }`));
    assert.equal((await handshake()).protocol, 'TLSv1.2');
    assert.equal((await tlsRequest('/get')).status, 200);
  });

  test('ciphers (TLS 1.2), ecdhCurves and signatureAlgorithms restrict the handshake', async () => {
    await serveTls(ctpOnTls(`  tls:
    maxVersion: "1.2"
    ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256]
    ecdhCurves: [P-256]
    signatureAlgorithms: [ecdsa_secp256r1_sha256]`));
    assert.equal((await handshake()).cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
    assert.ok((await handshake({ ciphers: 'ECDHE-ECDSA-AES256-GCM-SHA384' })).error, 'a cipher not on the list');
    assert.ok((await handshake({ ecdhCurve: 'X25519' })).error, 'a curve not on the list');
    assert.ok((await handshake({ sigalgs: 'ecdsa_secp384r1_sha384:rsa_pss_rsae_sha256' })).error, 'no signature algorithm in common');
    assert.equal((await handshake({ ecdhCurve: 'P-256' })).protocol, 'TLSv1.2');
  });

  test('alpnProtocols [http/1.1]: an h2 client is answered in HTTP/1.1; the default offers h2', async () => {
    await serveTls('');
    assert.equal((await handshake({ ALPNProtocols: ['h2', 'http/1.1'] })).alpn, 'h2');
    await serveTls(ctpOnTls(`  tls: { alpnProtocols: [http/1.1] }`));
    assert.equal((await handshake({ ALPNProtocols: ['h2', 'http/1.1'] })).alpn, 'http/1.1');
    assert.equal((await tlsRequest('/get', { tls: { ALPNProtocols: ['h2', 'http/1.1'] } })).alpn, 'http/1.1');
  });

  test('alpnProtocols with http/1.0: a client that negotiates it is served over HTTP/1; h2 and http/1.1 as listed', async () => {
    await serveTls(ctpOnTls(`  tls: { alpnProtocols: [h2, http/1.0] }
  http1: { http10: {} }`));
    const r = await tlsRequest('/get', { tls: { ALPNProtocols: ['http/1.0'] } });
    assert.deepEqual([r.status, r.alpn], [200, 'http/1.0'], 'an HTTP/1.1 request');
    // An HTTP/1.0 request as such a client sends it: answered, then closed.
    const answer = await new Promise<string>((resolve, reject) => {
      const s = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'www.example.com', ca: pki.ca.certPem, ALPNProtocols: ['http/1.0'] }, () => {
        s.write('GET /get HTTP/1.0\r\nHost: www.example.com\r\n\r\n');
      });
      let text = '';
      s.setEncoding('latin1');
      s.on('data', (c: string) => (text += c));
      s.on('end', () => resolve(text));
      s.on('error', reject);
    });
    assert.match(answer, /^HTTP\/1\.1 200 /);
    assert.equal((await handshake({ ALPNProtocols: ['h2', 'http/1.0'] })).alpn, 'h2');
    assert.ok((await handshake({ ALPNProtocols: ['http/1.1'] })).error, 'http/1.1 is not offered');
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields'), undefined, JSON.stringify(st));
  });

  test('a name OpenSSL does not know refuses the configuration, with the field in the error', async () => {
    for (const [bad, field] of [
      ['ciphers: [ECDHE-ECDSA-AES128-GCM-SHA256, NOT-A-CIPHER]', /tls\.ciphers\[1\] "NOT-A-CIPHER": not accepted by OpenSSL/],
      ['ecdhCurves: [P-256, P-999]', /tls\.ecdhCurves\[1\] "P-999"/],
      ['signatureAlgorithms: [rsa_sha_nothing]', /tls\.signatureAlgorithms\[0\] "rsa_sha_nothing"/],
    ] as const) {
      const yaml = egQuickstart(port, up.port, { extra: ctpOnTls(`  tls: { ${bad} }`) });
      const parsed = parseYamlResources(yaml, 'test.yaml');
      const { errors } = translate(parsed.resources.map((r, i) => ({ ...r, seq: i })), DEFAULT_TRANSLATE_OPTIONS);
      assert.ok(errors.some((e) => field.test(e.message)), `${bad}: ${JSON.stringify(errors)}`);
      await gw.write(yaml);
      assert.equal(await gw.instance.reload(), false, bad);
    }
  });
});

/** An HTTP/2 session with the TLS listener, once the server's SETTINGS arrived. */
async function h2Session(): Promise<http2.ClientHttp2Session> {
  const session = http2.connect(`https://127.0.0.1:${tlsPort}`, { ca: pki.ca.certPem, servername: 'www.example.com' });
  session.on('error', () => {});
  await new Promise((r) => session.once('remoteSettings', r));
  return session;
}

describe('http2', () => {
  test('maxConcurrentStreams, initialStreamWindowSize and initialConnectionWindowSize reach new sessions; without a policy, Node\'s defaults', async () => {
    await serveTls(ctpOnTls(`  http2:
    maxConcurrentStreams: 50
    initialStreamWindowSize: 128Ki
    initialConnectionWindowSize: 1Mi`));
    const s = await h2Session();
    try {
      assert.equal(s.remoteSettings.maxConcurrentStreams, 50);
      assert.equal(s.remoteSettings.initialWindowSize, 128 * 1024);
      // The server's WINDOW_UPDATE follows its SETTINGS.
      const until = performance.now() + 5000;
      while (s.state.remoteWindowSize !== 1024 * 1024 && performance.now() < until) await new Promise((r) => setTimeout(r, 10));
      assert.equal(s.state.remoteWindowSize, 1024 * 1024);
      const req = s.request({ ':path': '/get' });
      req.resume();
      assert.equal(await new Promise((r) => req.on('response', (h) => r(h[':status']))), 200);
    } finally {
      s.destroy();
    }
    await serveTls('');
    const d = await h2Session();
    try {
      assert.equal(d.remoteSettings.maxConcurrentStreams, 0xffffffff);
      assert.equal(d.remoteSettings.initialWindowSize, 65_535);
      assert.equal(d.remoteSettings.maxHeaderListSize, 60 * 1024, 'the listener\'s own settings stay');
    } finally {
      d.destroy();
    }
  });

  test('a window outside 64Ki – 2^31-1 makes the policy Invalid (none of it applies); onInvalidMessage is named as not served', async () => {
    // First a valid one: a configuration whose listeners equal the running ones keeps the running status (runtime).
    await serveTls(ctpOnTls(`  http2: { maxConcurrentStreams: 9 }`));
    await serveTls(ctpOnTls(`  http2: { initialStreamWindowSize: 1Ki, maxConcurrentStreams: 9 }`));
    const bad = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.equal(bad.accepted, false);
    assert.match(JSON.stringify(bad), /http2\.initialStreamWindowSize: \\"1Ki\\" must be between 64Ki and 2147483647 bytes/);
    const d = await h2Session();
    assert.equal(d.remoteSettings.maxConcurrentStreams, 0xffffffff, 'not applied');
    d.destroy();
    await serveTls(ctpOnTls(`  http2: { onInvalidMessage: TerminateStream, maxConcurrentStreams: 7 }`));
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/tls-policy');
    assert.match(st.conditions.find((c: { type: string }) => c.type === 'UnsupportedFields').message, /http2\.onInvalidMessage \(Node/);
  });
});

describe('http1', () => {
  test('http1.http10 set: HTTP/1.0 is served; enableTrailers\' request direction is named as not served', async () => {
    await serve(ctp('http1', `timeout: { http: { idleTimeout: 7s } }
http1:
  enableTrailers: true
  preserveHeaderCase: true
  http10: { useDefaultHost: true }
`));
    const c = await rawConnection();
    c.socket.write('GET /get HTTP/1.0\r\nHost: www.example.com\r\n\r\n');
    await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 200 /);
    const st = await statusOf(gw, 'ClientTrafficPolicy/default/http1');
    const msg = st.conditions.find((x: { type: string }) => x.type === 'UnsupportedFields').message;
    assert.ok(msg.includes('http1.enableTrailers: request trailers ('), msg);
    assert.ok(!msg.includes('preserveHeaderCase'), msg);
  });
  test('a policy without http1.http10: HTTP/1.0 is answered 426 with Upgrade: HTTP/1.1, as Envoy Gateway does; HTTP/1.1 served', async () => {
    await serve(ctp('http1', 'timeout: { http: { idleTimeout: 7s } }'));
    const c = await rawConnection();
    c.socket.write('GET /get HTTP/1.0\r\nHost: www.example.com\r\n\r\n');
    await c.closed;
    assert.match(c.text(), /^HTTP\/1\.1 426 Upgrade Required\r\n/);
    assert.match(c.text(), /\r\nupgrade: HTTP\/1\.1\r\n/i);
    assert.equal((await egRequest(port, '/get')).status, 200);
  });
});
