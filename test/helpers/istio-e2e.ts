// Shared by test/istio-e2e-*.test.ts: the example files of examples/istio with
// their fixed ports moved to free ones, and a plain HTTP client that keeps the
// request target exactly as written (path-normalization tests need that).
import http from 'node:http';
import https from 'node:https';
import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const EXAMPLES_DIR = fileURLToPath(new URL('../../examples/istio/', import.meta.url));

export function examplePath(name: string): string {
  return EXAMPLES_DIR + name;
}

/**
 * An example file with its fixed ports moved: every `port: N` / `port: "N"`, and
 * `N:` map keys (portLevelMtls), for each N in `ports`. `extra` replaces other
 * text (URLs). Throws when something to replace is missing, so a test never
 * silently runs against the wrong port.
 */
export function exampleYaml(name: string, ports: Record<number, number>, extra: Record<string, string> = {}): string {
  return portsMoved(readFileSync(examplePath(name), 'utf8'), name, ports, extra);
}

/**
 * examples/quickstart (every file, joined) with its ports moved: the Gateway's 8080 and
 * the demo backends 9081/9082. Examples such as authz-deny.yaml hold only policies for
 * the quickstart's httpbin workload and are served with it.
 */
export function quickstartYaml(ports: { 8080: number; 9081: number; 9082?: number }): string {
  const dir = fileURLToPath(new URL('../../examples/quickstart/', import.meta.url));
  const text = readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort().map((f) => readFileSync(dir + f, 'utf8')).join('\n---\n');
  return portsMoved(text, 'examples/quickstart', { 9082: ports[9082] ?? 9, ...ports });
}

/** exampleYaml for any text (examples outside examples/istio). */
export function portsMoved(text: string, name: string, ports: Record<number, number>, extra: Record<string, string> = {}): string {
  for (const [from, to] of Object.entries(ports)) {
    const re = new RegExp(`(port: "?|^\\s+)${from}(?=["\\s:]|$)`, 'gm');
    if (!re.test(text)) throw new Error(`${name}: no port ${from} to replace`);
    text = text.replace(re, `$1${to}`);
  }
  for (const [from, to] of Object.entries(extra)) {
    if (!text.includes(from)) throw new Error(`${name}: no "${from}" to replace`);
    text = text.replaceAll(from, to);
  }
  return text;
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  json(): EchoBody;
}

/** What the demo echo backend (src/demo/echo.ts) answers. */
export interface EchoBody {
  backend: string;
  method: string;
  url: string;
  headers: Record<string, string | undefined>;
}

export interface SendOptions {
  method?: string;
  headers?: Record<string, string>;
  /** Source address of the connection (any 127.0.0.0/8 address works on loopback). */
  localAddress?: string;
  body?: string;
  /** HTTPS: client certificate chain, key and the CA to trust; a fresh connection each time. */
  tls?: { ca: string; cert?: string; key?: string; servername?: string };
}

/** One request; the target (path and query) is sent byte for byte as given. */
export function send(port: number, target: string, o: SendOptions = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const common = {
      host: '127.0.0.1',
      port,
      method: o.method ?? 'GET',
      path: target,
      headers: o.headers,
      localAddress: o.localAddress,
    };
    const onResponse = (res: http.IncomingMessage) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () =>
        resolve({ status: res.statusCode!, headers: res.headers, body, json: () => JSON.parse(body) as EchoBody }),
      );
      res.on('error', reject);
    };
    const req = o.tls
      ? https.request({ ...common, agent: false, ca: o.tls.ca, cert: o.tls.cert, key: o.tls.key, servername: o.tls.servername ?? 'localhost' }, onResponse)
      : http.request({ ...common, agent: o.localAddress ? false : undefined }, onResponse);
    req.on('error', reject);
    req.end(o.body);
  });
}
