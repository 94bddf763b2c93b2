// `portcullis run`: serve a configuration, or the quickstart without -f.
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parse, hostPort, pathNormalization, positiveInt, UsageError } from './args.ts';
import { DEFAULT_LIMITS } from '../translate/index.ts';
import { readFileSync } from 'node:fs';
import type { ManagementOptions, RunOptions } from '../runtime/options.ts';
import type { LogLevel } from '../log/logger.ts';
import { startSingle } from '../runtime/single.ts';
import { StartupError } from '../runtime/startup.ts';
import { socketReason } from '../dataplane/socket-error.ts';
import { startEcho } from '../demo/echo.ts';
import { parseRedisUrl } from '../state/redis-url.ts';

const HELP = `Usage: portcullis run [-f FILE_OR_DIR ...] [options]

Serves Gateway API / Envoy Gateway / Istio resources from YAML files
(multi-document; directories are read recursively). Without -f, starts the
quickstart: demo echo backends on 127.0.0.1:9081 and :9082 and a gateway on
:8080 with example routes and Istio policies (examples/quickstart).

Options:
  -f, --file PATH            file or directory of resources (repeatable)
  -w, --watch                reload when the files change
      --admin HOST:PORT      admin listener (default 127.0.0.1:9901)
      --bind ADDRESS         address the listeners bind to (default 0.0.0.0)
      --workers N            worker processes (default: one per core; 1 = single process)
      --gateway-class NAME   serve only Gateways of this class (default: all)
      --log-level LEVEL      debug | info | warn | error | silent (default info)
      --access-log TARGET    stdout | off (default stdout)
      --max-header-bytes N   request header block limit, 431 beyond (default ${DEFAULT_LIMITS.maxHeaderBytes})
      --max-url-bytes N      request target limit, 414 beyond (default ${DEFAULT_LIMITS.maxUrlBytes})
      --max-body-bytes N     request body limit, 413 beyond; 0 = none (default ${DEFAULT_LIMITS.maxBodyBytes})
      --path-normalization M NONE | BASE | MERGE_SLASHES | DECODE_AND_MERGE_SLASHES (default: the Istio mesh
                             config's pathNormalization, else BASE)
      --root-namespace NS    Istio root namespace for mesh-wide policies (default istio-system)
      --redis URL            Redis for global rate limits (redis://, rediss://, redis+sentinel://h:p/master,
                             redis+cluster://h:p,h:p); see docs/state.md
      --redis-timeout MS     longest a request waits for Redis (default 100)
      --redis-fail-closed    answer 500 while Redis is unreachable (default: admit, logged and counted)
      --drain-timeout MS     on SIGTERM, how long requests in flight may finish (default 10000)

Management API (Kubernetes-compatible, on the admin listener; kubectl works):
      --data-dir DIR         store, admin token and audit log (default .portcullis)
      --store KIND           sqlite (default) | etcd | kubernetes | off (no management API)
      --etcd-endpoints URLS  comma-separated etcd v3 endpoints (default http://127.0.0.1:2379)
      --etcd-prefix PREFIX   key prefix in etcd (default /portcullis/)
      --kube-server URL      Kubernetes mode: the API server whose resources to serve
      --kube-token-file F    its bearer token
      --kube-ca-file F       the CA its certificate is checked against (default: the system's)
      --admin-token-file F   Kubernetes static token file (token,user,uid,"groups"); group
                             portcullis:read-only may only read. Default: <data-dir>/admin-token,
                             generated on first start
      --admin-token-secret NS/NAME  more tokens, from the key tokens.csv of this Secret (same
                             format; from the files or the store, re-read on every change)
      --admin-allow-anonymous  anonymous callers may read and write (local development only)
      --admin-tls-cert F, --admin-tls-key F   serve the admin listener over HTTPS
      --admin-client-ca F    accept client certificates signed by this CA (user = CN, groups = O)
      --audit-log TARGET     file (<data-dir>/audit.log, default) | stdout | off
  -h, --help
`;

const LEVELS = ['debug', 'info', 'warn', 'error', 'silent'];

export function quickstartDir(): string {
  return fileURLToPath(new URL('../../examples/quickstart', import.meta.url));
}

export function parseRunOptions(argv: string[]): RunOptions | 'help' {
  const { values } = parse(argv, {
    file: { type: 'string', short: 'f', multiple: true },
    watch: { type: 'boolean', short: 'w' },
    admin: { type: 'string', default: '127.0.0.1:9901' },
    bind: { type: 'string', default: '0.0.0.0' },
    workers: { type: 'string' },
    'gateway-class': { type: 'string' },
    'log-level': { type: 'string', default: 'info' },
    'access-log': { type: 'string', default: 'stdout' },
    'max-header-bytes': { type: 'string' },
    'max-url-bytes': { type: 'string' },
    'max-body-bytes': { type: 'string' },
    'path-normalization': { type: 'string' },
    'root-namespace': { type: 'string', default: 'istio-system' },
    'drain-timeout': { type: 'string', default: '10000' },
    redis: { type: 'string' },
    'redis-timeout': { type: 'string', default: '100' },
    'redis-fail-closed': { type: 'boolean' },
    'data-dir': { type: 'string', default: '.portcullis' },
    store: { type: 'string', default: 'sqlite' },
    'etcd-endpoints': { type: 'string' },
    'etcd-prefix': { type: 'string' },
    'kube-server': { type: 'string' },
    'kube-token-file': { type: 'string' },
    'kube-ca-file': { type: 'string' },
    'admin-token-file': { type: 'string' },
    'admin-token-secret': { type: 'string' },
    'admin-allow-anonymous': { type: 'boolean' },
    'admin-tls-cert': { type: 'string' },
    'admin-tls-key': { type: 'string' },
    'admin-client-ca': { type: 'string' },
    'audit-log': { type: 'string', default: 'file' },
    help: { type: 'boolean', short: 'h' },
  });
  if (values.help) return 'help';
  if (!LEVELS.includes(values['log-level']!)) throw new UsageError(`--log-level wants one of ${LEVELS.join(', ')}`);
  if (values['access-log'] !== 'stdout' && values['access-log'] !== 'off') throw new UsageError('--access-log wants stdout or off');
  const limits = { ...DEFAULT_LIMITS };
  if (values['max-header-bytes']) limits.maxHeaderBytes = positiveInt(values['max-header-bytes'], '--max-header-bytes', 1024);
  if (values['max-url-bytes']) limits.maxUrlBytes = positiveInt(values['max-url-bytes'], '--max-url-bytes', 64);
  if (values['max-body-bytes']) limits.maxBodyBytes = positiveInt(values['max-body-bytes'], '--max-body-bytes');
  let redis: RunOptions['redis'];
  if (values.redis) {
    try {
      parseRedisUrl(values.redis);
    } catch (err) {
      throw new UsageError(`--redis: ${(err as Error).message}`);
    }
    redis = { url: values.redis, timeoutMs: positiveInt(values['redis-timeout']!, '--redis-timeout', 1), failClosed: values['redis-fail-closed'] ?? false, prefix: 'portcullis:rl:' };
  }
  return {
    paths: values.file ?? [],
    watch: values.watch ?? false,
    admin: hostPort(values.admin!, '--admin'),
    logLevel: values['log-level'] as LogLevel,
    accessLog: values['access-log'],
    workers: values.workers ? positiveInt(values.workers, '--workers', 1) : availableParallelism(),
    translate: {
      gatewayClass: values['gateway-class'],
      bindAddress: values.bind!,
      limits,
      pathNormalization: pathNormalization(values['path-normalization']),
      rootNamespace: values['root-namespace']!,
    },
    drainMs: positiveInt(values['drain-timeout']!, '--drain-timeout'),
    redis,
    print: (line) => console.log(line),
    management: managementOptions(values),
  };
}

const STORES = ['sqlite', 'etcd', 'kubernetes', 'off'];

function managementOptions(v: Record<string, string | boolean | string[] | undefined>): ManagementOptions | undefined {
  const str = (k: string) => v[k] as string | undefined;
  const store = str('store')!;
  if (!STORES.includes(store)) throw new UsageError(`--store wants one of ${STORES.join(', ')}`);
  if (store === 'off') return undefined;
  const audit = str('audit-log')!;
  if (audit !== 'file' && audit !== 'stdout' && audit !== 'off') throw new UsageError('--audit-log wants file, stdout or off');
  if (store === 'kubernetes' && !str('kube-server')) throw new UsageError('--store kubernetes needs --kube-server URL');
  if ((str('admin-tls-cert') === undefined) !== (str('admin-tls-key') === undefined)) throw new UsageError('--admin-tls-cert and --admin-tls-key go together');
  if (str('admin-client-ca') && !str('admin-tls-cert')) throw new UsageError('--admin-client-ca needs --admin-tls-cert and --admin-tls-key');
  const secret = str('admin-token-secret');
  if (secret !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?\/[a-z0-9]([-.a-z0-9]*[a-z0-9])?$/.test(secret)) throw new UsageError(`--admin-token-secret wants NAMESPACE/NAME, got "${secret}"`);
  let kubeToken: string | undefined;
  if (str('kube-token-file')) {
    try {
      kubeToken = readFileSync(str('kube-token-file')!, 'utf8').trim();
    } catch (err) {
      throw new UsageError(`cannot read --kube-token-file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  let kubeCa: string | undefined;
  if (str('kube-ca-file')) {
    try {
      kubeCa = readFileSync(str('kube-ca-file')!, 'utf8');
    } catch (err) {
      throw new UsageError(`cannot read --kube-ca-file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  }
  return {
    dataDir: str('data-dir')!,
    kubeCa,
    store: store as ManagementOptions['store'],
    etcdEndpoints: str('etcd-endpoints')?.split(',').map((e) => e.trim()).filter(Boolean),
    etcdPrefix: str('etcd-prefix'),
    kubeServer: str('kube-server'),
    kubeToken,
    tokenFile: str('admin-token-file'),
    tokenSecret: str('admin-token-secret'),
    allowAnonymous: v['admin-allow-anonymous'] === true,
    audit,
    tls: str('admin-tls-cert') ? { cert: str('admin-tls-cert')!, key: str('admin-tls-key')!, clientCa: str('admin-client-ca') } : undefined,
  };
}

export async function runCommand(argv: string[]): Promise<number | undefined> {
  let opts: RunOptions | 'help';
  try {
    opts = parseRunOptions(argv);
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`portcullis run: ${err.message}\n\n${HELP}`);
      return 2;
    }
    throw err;
  }
  if (opts === 'help') {
    process.stdout.write(HELP);
    return 0;
  }
  const cleanups: (() => Promise<void>)[] = [];
  try {
    if (opts.paths.length === 0) {
      for (const [name, port] of [['echo-v1', 9081], ['echo-v2', 9082]] as const) {
        const echo = await startEcho(name, '127.0.0.1', port).catch((err: unknown) => {
          throw new StartupError(`quickstart: cannot start the demo backend ${name} on 127.0.0.1:${port}: ${socketReason(err)}`, []);
        });
        cleanups.push(echo.close);
      }
      opts.paths = [quickstartDir()];
      opts.print('quickstart: demo backends echo-v1 on 127.0.0.1:9081, echo-v2 on 127.0.0.1:9082');
    }
    const stop = await start(opts);
    cleanups.unshift(stop);
  } catch (err) {
    for (const c of cleanups) await c();
    if (err instanceof StartupError) {
      process.stderr.write(`portcullis run: ${err.message}\n${err.details.map((d) => `  ${d}\n`).join('')}`);
      return 1;
    }
    throw err;
  }
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    opts.print(`${signal}: draining (up to ${opts.drainMs} ms)`);
    for (const c of cleanups) await c().catch(() => {});
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  return undefined;
}

async function start(opts: RunOptions): Promise<() => Promise<void>> {
  if (opts.workers > 1) {
    const { startPrimary } = await import('../workers/primary.ts');
    return startPrimary(opts);
  }
  const inst = await startSingle(opts);
  return () => inst.close();
}
