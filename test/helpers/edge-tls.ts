// Envoy Gateway's quickstart with an HTTPS listener "https" (certificate for
// www.example.com from Secret eg-cert) and the client CA as ConfigMap
// client-ca: the site of the ClientTrafficPolicy tls tests, with the requests
// and handshakes they make against it.
//
//   const site: EdgeTlsSite = { gw, port, tlsPort, upstreamPort: up.port, ca, serverCert, clientCaPem };
//   await serveEdgeTls(site, ctpOnTls('  tls: { minVersion: "1.3" }'));
//   const r = await edgeTlsRequest(site, '/get', { cert: clientCert });
import assert from 'node:assert/strict';
import https from 'node:https';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { startGateway, type TestGateway } from './gateway.ts';
import { egQuickstart } from './eg-quickstart.ts';
import { startUpstream, type Upstream } from './upstream.ts';
import { freePort } from './ports.ts';
import { makeCa, issueServerCert } from './certs.ts';
import { policyYaml, tlsSecretYaml } from './yaml.ts';

export interface EdgeTlsSite {
  gw: TestGateway;
  port: number;
  tlsPort: number;
  upstreamPort: number;
  /** The CA the client trusts for the listener's certificate. */
  ca: { certPem: string };
  serverCert: { certPem: string; keyPem: string };
  /** ConfigMap client-ca's ca.crt. */
  clientCaPem: string;
}

/** An upstream and an in-process gateway serving the plain quickstart, as a site (a new CA, www.example.com's certificate); close() stops both. */
export async function startEdgeTlsSite(): Promise<{ site: EdgeTlsSite; up: Upstream; close(): Promise<void> }> {
  const up = await startUpstream('backend');
  const [port, tlsPort, ca] = [await freePort(), await freePort(), await makeCa()];
  const gw = await startGateway(egQuickstart(port, up.port));
  const site = { gw, port, tlsPort, upstreamPort: up.port, ca, serverCert: await issueServerCert(ca, { hostnames: ['www.example.com'] }), clientCaPem: ca.certPem };
  return { site, up, close: async () => { await gw.close(); await up.close(); } };
}

/** `text` as a YAML block scalar's lines, indented by `n` spaces. */
export function blockLines(text: string, n: number): string {
  return text.trim().split('\n').map((l) => `${' '.repeat(n)}${l}`).join('\n');
}

/** The quickstart with the HTTPS listener, its Secret and ConfigMap client-ca, plus `extra`. */
export function edgeTlsYaml(site: EdgeTlsSite, extra: string): string {
  const base = egQuickstart(site.port, site.upstreamPort, { extra: `${tlsSecretYaml('eg-cert', site.serverCert)}---
apiVersion: v1
kind: ConfigMap
metadata: { name: client-ca, namespace: default }
data:
  ca.crt: |
${blockLines(site.clientCaPem, 4)}
${extra}` });
  return base.replace(`    - { name: http, protocol: HTTP, port: ${site.port} }`, `    - { name: http, protocol: HTTP, port: ${site.port} }
    - { name: https, protocol: HTTPS, port: ${site.tlsPort}, tls: { certificateRefs: [{ name: eg-cert }] } }`);
}

/** Serve edgeTlsYaml(site, extra); the reload must succeed. */
export async function serveEdgeTls(site: EdgeTlsSite, extra: string): Promise<void> {
  await site.gw.write(edgeTlsYaml(site, extra));
  assert.equal(await site.gw.instance.reload(), true, 'the configuration loads');
}

/** ClientTrafficPolicy tls-policy on the HTTPS listener; `spec` is its fields, two-space indented as they stand under spec. */
export const ctpOnTls = (spec: string): string => policyYaml('ClientTrafficPolicy', 'tls-policy', 'Gateway/eg/https', spec.replace(/^ {2}/gm, ''));

export interface TlsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  protocol: string | null | undefined;
  alpn: string | false | null | undefined;
}

/** One HTTPS/1.1 request to the listener as www.example.com, with `cert` as the client certificate (its chainPem sent when it has one). */
export function edgeTlsRequest(site: EdgeTlsSite, path: string, opts: { cert?: { certPem: string; keyPem: string; chainPem?: string }; headers?: Record<string, string>; tls?: tls.ConnectionOptions } = {}): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: '127.0.0.1', port: site.tlsPort, path, servername: 'www.example.com', ca: site.ca.certPem, agent: false,
      headers: { host: 'www.example.com', ...opts.headers },
      ...(opts.cert ? { cert: opts.cert.chainPem ?? opts.cert.certPem, key: opts.cert.keyPem } : {}),
      ...opts.tls,
    }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      const s = res.socket as tls.TLSSocket;
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, protocol: s.getProtocol?.(), alpn: s.alpnProtocol }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The status of one request with `cert`, or "refused" when the gateway ended the connection without an answer. */
export async function statusWith(site: EdgeTlsSite, cert: { certPem: string; keyPem: string; chainPem?: string } | undefined): Promise<number | 'refused'> {
  try {
    return (await edgeTlsRequest(site, '/get', { cert })).status;
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    // A TLS alert (certificate revoked, unknown CA...), a reset or a close before any answer.
    if (e.code === 'ECONNRESET' || /alert|socket hang up/i.test(e.message) || e.code?.startsWith('ERR_SSL')) return 'refused';
    throw err;
  }
}

export interface Handshake {
  protocol?: string | null;
  cipher?: string;
  alpn?: string | false | null;
  error?: string;
}

/** A TLS handshake with the listener: what was negotiated, or the error. */
export function edgeHandshake(site: EdgeTlsSite, opts: tls.ConnectionOptions = {}): Promise<Handshake> {
  return new Promise((resolve) => {
    const s = tls.connect({ host: '127.0.0.1', port: site.tlsPort, servername: 'www.example.com', ca: site.ca.certPem, ...opts }, () => {
      resolve({ protocol: s.getProtocol(), cipher: s.getCipher().name, alpn: s.alpnProtocol });
      s.destroy();
    });
    s.on('error', (e) => resolve({ error: e.message }));
  });
}

/** Certificates as an XFCC Cert/Chain value: their PEM (as OpenSSL writes it) concatenated, URL-encoded, quoted. */
export function quotedPem(pems: string[]): string {
  return `"${encodeURIComponent(pems.map((p) => new X509Certificate(p).toString()).join(''))}"`;
}
