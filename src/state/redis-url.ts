// Where the shared rate-limit store is: `--redis URL` (docs/state.md).
//
//   redis://[user:password@]host[:port][/db]      one server (rediss:// for TLS)
//   redis+sentinel://host:port[,host:port...]/master-name[?password=...]
//   redis+cluster://host:port[,host:port...]      Redis Cluster (seed nodes)

export interface RedisSettings {
  url: string;
  /** Longest a request waits for Redis before the failure mode decides (ms). */
  timeoutMs: number;
  /** Redis unreachable: refuse (500) instead of admitting. Envoy Gateway's rateLimit.failClosed. */
  failClosed: boolean;
  /** Key prefix (several fleets on one Redis). */
  prefix: string;
}

export type RedisTarget =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: { host: string; port: number }[]; name: string; password?: string; tls: boolean }
  | { mode: 'cluster'; nodes: { host: string; port: number }[]; password?: string; tls: boolean };

export class RedisUrlError extends Error {}

function hosts(list: string, defaultPort: number): { host: string; port: number }[] {
  return list.split(',').map((h) => {
    const m = /^(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?$/.exec(h.trim());
    if (!m) throw new RedisUrlError(`bad host "${h}"`);
    const port = m[2] === undefined ? defaultPort : Number(m[2]);
    if (port < 1 || port > 65535) throw new RedisUrlError(`bad port in "${h}"`);
    return { host: m[1].replace(/^\[|\]$/g, ''), port };
  });
}

export function parseRedisUrl(url: string): RedisTarget {
  const m = /^(redis|rediss|redis\+sentinel|rediss\+sentinel|redis\+cluster|rediss\+cluster):\/\/(?:([^@/]*)@)?([^/?]+)(\/[^?]*)?(?:\?(.*))?$/.exec(url);
  if (!m) throw new RedisUrlError(`"${url}" is not a redis://, redis+sentinel:// or redis+cluster:// URL`);
  const [, scheme, auth, hostList, path, query] = m;
  const tls = scheme.startsWith('rediss');
  const params = new URLSearchParams(query ?? '');
  const password = params.get('password') ?? (auth ? decodeURIComponent(auth.includes(':') ? auth.slice(auth.indexOf(':') + 1) : auth) : undefined);
  if (scheme.endsWith('+sentinel')) {
    const name = (path ?? '').replace(/^\//, '');
    if (!name) throw new RedisUrlError('a redis+sentinel:// URL names the master after the hosts: redis+sentinel://host:26379/mymaster');
    return { mode: 'sentinel', sentinels: hosts(hostList, 26379), name: decodeURIComponent(name), password, tls };
  }
  if (scheme.endsWith('+cluster')) return { mode: 'cluster', nodes: hosts(hostList, 6379), password, tls };
  hosts(hostList, 6379); // validates
  if (hostList.includes(',')) throw new RedisUrlError('several hosts need redis+sentinel:// or redis+cluster://');
  return { mode: 'single', url };
}

/** The URL without its password, for logs. */
export function redactRedisUrl(url: string): string {
  return url.replace(/\/\/([^@/]*)@/, '//***@').replace(/([?&]password=)[^&]*/, '$1***');
}
