// The management API's runtime: opens the store (SQLite under the data
// directory, etcd, or a Kubernetes API server), sets up who may call it, the
// audit log, and the mirror that feeds the store's objects into every build
// and tells the config controller when they change. Shared by the single
// process and the primary of --workers.
import type http from 'node:http';
import { join } from 'node:path';
import type { Logger } from 'pino';
import type { ParentStatus, ResourceStatus } from '../ir/types.ts';

/** The controllerName of the status entries this gateway writes (Gateway API: a domain-prefixed path). */
const CONTROLLER_NAME = 'portcullis.io/gateway-controller';
import type { BuildResult } from '../config/pipeline.ts';
import { findKind } from '../resources/kinds/index.ts';
import { formatError, type ConfigError } from '../resources/errors.ts';
import type { LoadedResource, Resource } from '../resources/types.ts';
import type { Store } from '../store/types.ts';
import { StoreMirror } from '../store/mirror.ts';
import { ManagementApi } from '../admin/api/router.ts';
import { objectKey } from '../admin/api/objects.ts';
import { AuditLog } from '../admin/api/audit.ts';
import { Authenticator, ensureAdminToken, loadTokenFile, parseTokenLines, ADMIN_GROUP } from '../admin/api/auth.ts';
import { StartupError } from './single.ts';
import type { ManagementOptions } from './options.ts';
import { adminTls, writeKubeconfig, type AdminTls } from './admin-tls.ts';

export interface Management {
  api: ManagementApi;
  auth: Authenticator;
  /** The store's objects, for the next build. */
  resources(): LoadedResource[];
  /** The admin listener's TLS (same port as plain HTTP). */
  tls: AdminTls;
  /** Once the admin listener is up: write <data-dir>/kubeconfig for the generated token. */
  listening(address: { address: string; port: number }): string | undefined;
  /** Record a build: status for every object, and which objects the files define. */
  built(r: BuildResult, files: LoadedResource[]): void;
  close(): Promise<void>;
}

async function openStore(m: ManagementOptions): Promise<Store> {
  switch (m.store) {
    case 'sqlite': {
      const { SqliteStore } = await import('../store/sqlite.ts');
      return new SqliteStore(m.dataDir);
    }
    case 'etcd': {
      const { EtcdStore } = await import('../store/etcd.ts');
      return EtcdStore.open(m.etcdEndpoints ?? ['http://127.0.0.1:2379'], m.etcdPrefix ?? '/portcullis/');
    }
    case 'kubernetes': {
      const { KubeStore } = await import('../store/kube.ts');
      return new KubeStore(m.kubeServer!, m.kubeToken, m.kubeCa);
    }
  }
}

function statusKey(kind: string, namespace: string | undefined, name: string): string {
  return `${kind}/${namespace ?? 'default'}/${name}`;
}

/** "Kind/ns/name" or "Kind/name" as errors name objects → the status key. */
function errorKey(object: string): string {
  const parts = object.split('/');
  return parts.length === 2 ? `${parts[0]}/default/${parts[1]}` : object;
}

export async function startManagement(m: ManagementOptions, version: string, log: Logger, onChange: () => void): Promise<Management> {
  const auth = new Authenticator(m.allowAnonymous);
  let generatedToken: string | undefined;
  if (m.tokenFile) {
    let problems: string[];
    try {
      problems = loadTokenFile(auth, m.tokenFile);
    } catch (err) {
      throw new StartupError(`cannot read --admin-token-file: ${(err as Error).message}`, []);
    }
    if (problems.length > 0) throw new StartupError('--admin-token-file has errors', problems);
  } else {
    const t = ensureAdminToken(m.dataDir);
    auth.addToken(t.token, 'admin', [ADMIN_GROUP]);
    generatedToken = t.token;
    if (t.created) log.info({ file: t.file }, 'generated an admin API token (kubectl --token "$(cat FILE)")');
  }
  if (m.allowAnonymous) log.warn('the admin API accepts anonymous reads and writes (--admin-allow-anonymous): for local development only');

  const tls = await adminTls(m);
  let store: Store;
  try {
    store = await openStore(m);
  } catch (err) {
    throw new StartupError(`cannot open the ${m.store} store: ${(err as Error).message}`, []);
  }
  const mirror = new StoreMirror(store, onChange, (err) => log.error({ err: err.message }, 'store watch interrupted; resuming'));
  try {
    await mirror.start();
  } catch (err) {
    await store.close();
    throw new StartupError(`cannot read the ${m.store} store: ${(err as Error).message}`, []);
  }

  // --admin-token-secret: its tokens follow the Secret, build after build (a line removed is revoked).
  let secretReport = '';
  const readTokenSecret = (resources: readonly LoadedResource[]) => {
    if (!m.tokenSecret) return;
    const [namespace, name] = m.tokenSecret.split('/');
    const secret = resources.find((lr) => lr.resource.apiVersion === 'v1' && lr.resource.kind === 'Secret' && lr.resource.metadata.name === name && (lr.resource.metadata.namespace ?? 'default') === namespace)?.resource as
      | (Resource & { data?: Record<string, string>; stringData?: Record<string, string> })
      | undefined;
    const text = secret?.stringData?.['tokens.csv'] ?? (secret?.data?.['tokens.csv'] !== undefined ? Buffer.from(secret.data['tokens.csv'], 'base64').toString('utf8') : undefined);
    const parsed = text === undefined ? { entries: [], problems: [`Secret ${m.tokenSecret} ${secret ? 'has no key tokens.csv' : 'does not exist (yet)'}`] } : parseTokenLines(text, `Secret ${m.tokenSecret} tokens.csv`);
    auth.setSecretTokens(parsed.entries);
    const report = `${parsed.entries.length}\0${parsed.problems.join('\n')}`;
    if (report !== secretReport) {
      secretReport = report;
      if (parsed.problems.length > 0) log.warn({ problems: parsed.problems, tokens: parsed.entries.length }, '--admin-token-secret: some tokens are not usable');
      else log.info({ secret: m.tokenSecret, tokens: parsed.entries.length }, 'admin API tokens read from the Secret');
    }
  };

  let statuses = new Map<string, ResourceStatus>();
  let errors = new Map<string, ConfigError[]>();
  let builtAt = new Date().toISOString();
  let files = new Map<string, { resource: Resource; file: string }>();

  const audit = new AuditLog(m.audit === 'file' ? join(m.dataDir, 'audit.log') : undefined, (err) => log.error({ err: err.message }, 'cannot write the audit log'));
  const stdoutAudit = m.audit === 'stdout';
  const api = new ManagementApi({
    store,
    auth,
    version,
    audit: stdoutAudit ? { file: undefined, record: (who, rec) => log.info({ audit: { user: who.user, groups: who.groups, ...rec } }, 'admin API change') } as AuditLog : audit,
    readOnlyReason: m.store === 'kubernetes' ? 'this instance reads its configuration from a Kubernetes API server: change it there' : undefined,
    fileObjects: () => files,
    statusOf: (r) => {
      const key = statusKey(r.kind, r.metadata.namespace, r.metadata.name);
      const s = statuses.get(key);
      const errs = errors.get(key) ?? [];
      if (!s && errs.length === 0) return undefined;
      const conditions = (s?.conditions ?? []).map((c) => ({ ...c, observedGeneration: r.metadata.generation, lastTransitionTime: builtAt }));
      if (errs.length > 0) {
        const message = errs.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');
        const i = conditions.findIndex((c) => c.type === 'Accepted');
        const rejected = { type: 'Accepted' as const, status: 'False' as const, reason: 'Invalid' as const, message, observedGeneration: r.metadata.generation, lastTransitionTime: builtAt };
        if (i >= 0) conditions[i] = rejected;
        else conditions.unshift(rejected);
      }
      const stamp = (cs: { type: string; status: string; reason: string; message: string }[]) => cs.map((c) => ({ ...c, observedGeneration: r.metadata.generation, lastTransitionTime: builtAt }));
      const ref = (p: ParentStatus['parentRef']) => ({ group: 'gateway.networking.k8s.io', kind: p.kind, namespace: p.namespace, name: p.name, ...(p.sectionName ? { sectionName: p.sectionName } : {}) });
      // Gateway API shapes: RouteStatus.parents (per parentRef) and PolicyAncestorStatus (per ancestor).
      return {
        conditions,
        ...(s?.parents ? { parents: s.parents.map((p) => ({ parentRef: ref(p.parentRef), controllerName: CONTROLLER_NAME, conditions: stamp(p.conditions) })) } : {}),
        ...(s?.ancestors ? { ancestors: s.ancestors.map((p) => ({ ancestorRef: ref(p.parentRef), controllerName: CONTROLLER_NAME, conditions: stamp(p.conditions) })) } : {}),
      };
    },
  });

  return {
    api,
    auth,
    tls,
    listening(address) {
      if (!generatedToken || !tls.caFile) return undefined;
      const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address.includes(':') ? `[${address.address}]` : address.address;
      return writeKubeconfig(m.dataDir, `https://${host}:${address.port}`, tls.caFile, generatedToken);
    },
    resources: () => mirror.resources(),
    built(r, fromFiles) {
      readTokenSecret(r.resources);
      builtAt = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      statuses = new Map(r.translated.status.map((s) => [s.object, s]));
      errors = new Map();
      for (const e of [...r.errors, ...r.policyErrors]) {
        if (!e.object) continue;
        const k = errorKey(e.object);
        errors.set(k, [...(errors.get(k) ?? []), e]);
      }
      const next = new Map<string, { resource: Resource; file: string }>();
      for (const lr of fromFiles) {
        const res = lr.resource;
        const info = typeof res?.apiVersion === 'string' && typeof res.kind === 'string' ? findKind(res.apiVersion, res.kind) : undefined;
        if (!info || typeof res.metadata?.name !== 'string') continue;
        const withNs = info.namespaced ? { ...res, metadata: { ...res.metadata, namespace: res.metadata.namespace ?? 'default' } } : res;
        next.set(objectKey(info, withNs.metadata.namespace ?? '', res.metadata.name), { resource: withNs, file: lr.source?.file ?? 'a file' });
      }
      files = next;
      if (r.errors.length > 0) log.debug({ errors: r.errors.map(formatError) }, 'build rejected');
    },
    async close() {
      mirror.close();
      await store.close();
    },
  };
}

/** Mount point for the admin server: answers the API's paths, and guards /config with the same credentials. */
export function adminRoutes(mg: Management) {
  return {
    owns: (path: string) => ManagementApi.owns(path),
    handle: (req: http.IncomingMessage, res: http.ServerResponse) => mg.api.handle(req, res),
    /** For /config: true if the caller may read it (else the 401 is already sent). */
    allowRead: (req: http.IncomingMessage, res: http.ServerResponse) => mg.api.identify(req, res) !== undefined,
  };
}
