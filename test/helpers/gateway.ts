// Starts a real gateway in-process on YAML written to a temp dir.
import { mkdtemp, writeFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSingle, type Instance } from '../../src/runtime/single.ts';
import { DEFAULT_TRANSLATE_OPTIONS } from '../../src/translate/index.ts';
import type { RunOptions } from '../../src/runtime/options.ts';
import type { AddressInfo } from 'node:net';
import { backendYaml, beRef } from './yaml.ts';

export { beRef };

export interface TestGateway {
  instance: Instance;
  dir: string;
  file: string;
  adminUrl: string;
  /** Rewrite the config file (for --watch tests). */
  write(yaml: string): Promise<void>;
  close(): Promise<void>;
}

export async function startGateway(yaml: string, opts: Partial<RunOptions> = {}): Promise<TestGateway> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-test-'));
  const file = join(dir, 'config.yaml');
  await writeFile(file, yaml);
  const instance = await startSingle({
    paths: [file],
    watch: false,
    admin: { host: '127.0.0.1', port: 0 },
    logLevel: 'silent',
    accessLog: 'off',
    workers: 1,
    drainMs: 2000,
    print: () => {},
    ...opts,
    translate: { ...DEFAULT_TRANSLATE_OPTIONS, bindAddress: '127.0.0.1', ...opts.translate },
  });
  const a = instance.admin.address() as AddressInfo;
  return {
    instance,
    dir,
    file,
    adminUrl: `http://127.0.0.1:${a.port}`,
    write: (text) => writeFile(file, text),
    async close() {
      await instance.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** A Gateway with one HTTP listener, and Backends for the given upstream ports. */
export function gatewayYaml(port: number, backends: Record<string, number>, extra = ''): string {
  const be = Object.entries(backends).map(([name, p]) => backendYaml(name, [p])).join('');
  return `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: default }
spec:
  gatewayClassName: portcullis
  listeners:
    - { name: http, protocol: HTTP, port: ${port} }
${be}${extra}`;
}

/** An HTTPRoute default/r on Gateway gw sending everything to one Backend (a YAML document, leading ---). */
export function routeTo(backend: string): string {
  return `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: default }
spec:
  parentRefs: [{ name: gw }]
  rules: [{ backendRefs: [${beRef(backend)}] }]
`;
}

/** The Istio mesh config trusting N proxy hops of X-Forwarded-For (a YAML document, leading ---). */
export function trustProxies(n: number): string {
  return `---
apiVersion: v1
kind: ConfigMap
metadata: { name: istio, namespace: istio-system }
data:
  mesh: |
    defaultConfig:
      gatewayTopology:
        numTrustedProxies: ${n}
`;
}
