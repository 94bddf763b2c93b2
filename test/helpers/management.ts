// A gateway with the management API (SQLite store in a temp data dir), and
// a small client for its REST API over a real socket.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { startGateway, type TestGateway } from './gateway.ts';
import type { ManagementOptions, RunOptions } from '../../src/runtime/options.ts';

export interface ManagedGateway extends TestGateway {
  dataDir: string;
  token: string;
  api: ApiClient;
}

export interface Answer {
  status: number;
  body: any;
  headers: Record<string, string | string[] | undefined>;
}

export interface ApiClient {
  call(method: string, path: string, body?: unknown, opts?: { contentType?: string; token?: string | null; accept?: string }): Promise<Answer>;
}

export function apiClient(baseUrl: string, token: string | undefined): ApiClient {
  return {
    async call(method, path, body, opts = {}) {
      const t = opts.token === undefined ? token : opts.token;
      const headers: Record<string, string> = { accept: opts.accept ?? 'application/json' };
      if (t) headers.authorization = `Bearer ${t}`;
      let payload: string | undefined;
      if (body !== undefined) {
        payload = typeof body === 'string' ? body : JSON.stringify(body);
        headers['content-type'] = opts.contentType ?? 'application/json';
      }
      const r = await request(baseUrl + path, { method: method as 'GET', headers, body: payload });
      const text = await r.body.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // not JSON: kept as text
      }
      return { status: r.statusCode, body: parsed, headers: r.headers };
    },
  };
}

export async function startManaged(yaml: string, mgmt: Partial<ManagementOptions> = {}, opts: Partial<RunOptions> = {}): Promise<ManagedGateway> {
  const dataDir = mgmt.dataDir ?? (await mkdtemp(join(tmpdir(), 'portcullis-data-')));
  const gw = await startGateway(yaml, { ...opts, management: { dataDir, store: 'sqlite', allowAnonymous: false, audit: 'file', ...mgmt } });
  const token = mgmt.tokenFile ? '' : (await readFile(join(dataDir, 'admin-token'), 'utf8')).trim();
  return {
    ...gw,
    dataDir,
    token,
    api: apiClient(gw.adminUrl, token),
    async close() {
      await gw.close();
      if (!mgmt.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export async function until<T>(what: string, probe: () => Promise<T | undefined | false>, ms = 5000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await probe();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Where the REST API keeps the AuthorizationPolicies of namespace default. */
export const POLICIES_PATH = '/apis/security.istio.io/v1/namespaces/default/authorizationpolicies';

/** An AuthorizationPolicy object on Gateway gw denying `path`, as the REST API takes it. */
export function denyPolicy(name: string, path: string, labels: Record<string, string> = {}) {
  return {
    apiVersion: 'security.istio.io/v1',
    kind: 'AuthorizationPolicy',
    metadata: { name, labels },
    spec: {
      targetRefs: [{ group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'gw' }],
      action: 'DENY',
      rules: [{ to: [{ operation: { paths: [path] } }] }],
    },
  };
}
