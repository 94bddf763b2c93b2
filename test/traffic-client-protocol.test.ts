// BackendTrafficPolicy useClientProtocol over real sockets: an HTTP/2 client
// is proxied to the backend over HTTP/2, an HTTP/1.1 client over HTTP/1.1 —
// to a clear-text backend (h2c by prior knowledge) and to a TLS backend (ALPN)
// — while a route without the field keeps HTTP/1.1 for both.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import { startGateway, type TestGateway } from './helpers/gateway.ts';
import { gatewayDoc, httpsListener, tlsSecretYaml } from './helpers/yaml.ts';
import { freePort } from './helpers/ports.ts';
import { makeCa, issueServerCert, type RootCa } from './helpers/certs.ts';

const HOST = 'api.example.com';
let ca: RootCa;
let gw: TestGateway;
let port: number;
const closers: (() => void)[] = [];

type Handler = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => void;
/** Answers the HTTP version it was spoken to in. */
const answer: Handler = (req, res) => {
  req.resume();
  req.on('end', () => {
    res.setHeader('content-type', 'text/plain');
    res.end(`${req.httpVersion} ${req.url}`);
  });
};

/** A clear-text backend that speaks HTTP/1.1 and, to a client that opens with the HTTP/2 preface, h2c. */
async function startClearBackend(): Promise<number> {
  const h1 = http.createServer(answer as http.RequestListener);
  const h2 = http2.createServer(answer as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  const server = net.createServer((sock) => {
    sock.once('data', (first: Buffer) => {
      sock.pause();
      sock.unshift(first);
      // The HTTP/2 session reads what was unshifted itself; the HTTP/1.1 server needs the socket flowing again.
      if (first.subarray(0, 3).toString() === 'PRI') h2.emit('connection', sock);
      else {
        h1.emit('connection', sock);
        sock.resume();
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => {
    server.close();
    h1.closeAllConnections();
  });
  return (server.address() as net.AddressInfo).port;
}

/** A TLS backend offering h2 and http/1.1 by ALPN. */
async function startTlsBackend(): Promise<number> {
  const cert = await issueServerCert(ca, { hostnames: ['backend.internal'] });
  const server = http2.createSecureServer({ cert: cert.certPem, key: cert.keyPem, allowHTTP1: true }, answer as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  closers.push(() => server.close());
  return (server.address() as net.AddressInfo).port;
}

before(async () => {
  ca = await makeCa();
  const [clear, secure, gwCert] = await Promise.all([startClearBackend(), startTlsBackend(), issueServerCert(ca, { hostnames: [HOST] })]);
  port = await freePort();
  const route = (name: string, backend: string) => `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name}, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  hostnames: [${HOST}]
  rules: [{ matches: [{ path: { type: PathPrefix, value: /${name} } }], backendRefs: [{ group: gateway.envoyproxy.io, kind: Backend, name: ${backend} }] }]
`;
  const policy = (name: string) => `---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: BackendTrafficPolicy
metadata: { name: ${name}, namespace: default }
spec:
  targetRefs: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, name: ${name} }]
  useClientProtocol: true
`;
  gw = await startGateway(`${gatewayDoc([httpsListener('https', port)])}${tlsSecretYaml('cert', gwCert)}---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: clear, namespace: default }
spec: { endpoints: [{ ip: { address: 127.0.0.1, port: ${clear} } }] }
---
apiVersion: gateway.envoyproxy.io/v1alpha1
kind: Backend
metadata: { name: secure, namespace: default }
spec:
  endpoints: [{ ip: { address: 127.0.0.1, port: ${secure} } }]
  tls: { sni: backend.internal, insecureSkipVerify: true }
${route('clear', 'clear')}${policy('clear')}${route('secure', 'secure')}${policy('secure')}${route('plain', 'clear')}`);
});

after(async () => {
  await gw?.close();
  for (const c of closers) c();
});

function viaH1(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    https.get({ host: '127.0.0.1', port, path, servername: HOST, ca: ca.certPem, headers: { host: HOST }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve(`${res.statusCode} ${body}`));
    }).on('error', reject);
  });
}

async function viaH2(paths: string[]): Promise<string[]> {
  const session = http2.connect(`https://127.0.0.1:${port}`, { ca: ca.certPem, servername: HOST });
  try {
    return await Promise.all(paths.map((path) => new Promise<string>((resolve, reject) => {
      const s = session.request({ ':path': path, ':authority': HOST });
      let status = 0;
      let body = '';
      s.setEncoding('utf8');
      s.on('response', (h) => (status = Number(h[':status'])));
      s.on('data', (c: string) => (body += c));
      s.on('end', () => resolve(`${status} ${body}`));
      s.on('error', reject);
      s.end();
    })));
  } finally {
    session.close();
  }
}

test('useClientProtocol: HTTP/2 client → HTTP/2 upstream, HTTP/1.1 client → HTTP/1.1, h2c and TLS backends alike', async () => {
  assert.equal(await viaH1('/clear/a'), '200 1.1 /clear/a');
  assert.equal(await viaH1('/secure/a'), '200 1.1 /secure/a');
  assert.deepEqual(await viaH2(['/clear/b', '/secure/b', '/clear/c']), ['200 2.0 /clear/b', '200 2.0 /secure/b', '200 2.0 /clear/c']);
  assert.equal(await viaH1('/clear/d'), '200 1.1 /clear/d', 'the HTTP/1.1 pool is still there after HTTP/2 was used');
});

test('without it, the backend is spoken to in HTTP/1.1 whatever the client spoke', async () => {
  assert.deepEqual(await viaH2(['/plain/x']), ['200 1.1 /plain/x']);
  assert.equal(await viaH1('/plain/y'), '200 1.1 /plain/y');
  const status = await (await fetch(`${gw.adminUrl}/status`)).text();
  assert.doesNotMatch(status, /UnsupportedFields/, 'useClientProtocol is served, not only validated');
});
