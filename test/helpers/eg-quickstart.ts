// Envoy Gateway's quickstart, as its task pages assume it: Gateway "eg" with
// an HTTP listener, HTTPRoute "backend" for www.example.com → Service
// "backend" port 3000 (here an EndpointSlice pointing at a real upstream).
import http from 'node:http';
import { startGateway, type TestGateway } from './gateway.ts';
import { freePort } from './ports.ts';
import { gatewayDoc, httpListener, serviceYaml, routeYaml } from './yaml.ts';

export function egQuickstart(port: number, upstreamPort: number, opts: { name?: string; extra?: string } = {}): string {
  return gatewayDoc([httpListener(port)], { name: 'eg', className: 'eg' }) + serviceYaml(opts.name ?? 'backend', [{ port: upstreamPort }]) +
    egRouteYaml('backend', '/') + (opts.extra ?? '');
}

/** HTTPRoute `name` on Gateway eg for www.example.com: PathPrefix `path` → Service `service` port 3000. */
export function egRouteYaml(name: string, path: string, service = 'backend'): string {
  return routeYaml(name, `- matches: [{ path: { type: PathPrefix, value: ${path} } }]
  backendRefs: [{ name: ${service}, port: 3000 }]`, { parent: 'eg', hostnames: ['www.example.com'] });
}

export interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request to the gateway, Host www.example.com unless given. */
export function egRequest(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method, headers: { host: 'www.example.com', ...headers }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A gateway on the quickstart plus `extra`, for the length of `fn`. */
export async function withEgGateway(upstreamPort: number, extra: string, fn: (port: number, gw: TestGateway) => Promise<void>): Promise<void> {
  const port = await freePort();
  const gw = await startGateway(egQuickstart(port, upstreamPort, { extra }));
  try {
    await fn(port, gw);
  } finally {
    await gw.close();
  }
}

/** A resource's status as admin /config shows it. */
export async function statusOf(gw: TestGateway, object: string): Promise<any> {
  const cfg = (await (await fetch(`${gw.adminUrl}/config`)).json()) as { status?: { object: string }[] };
  return (cfg.status ?? []).find((s) => s.object === object);
}
