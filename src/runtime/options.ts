import type { LogLevel } from '../log/logger.ts';
import type { TranslateOptions } from '../translate/index.ts';
import type { RedisSettings } from '../state/redis-url.ts';

export interface RunOptions {
  /** Files and directories to serve (the quickstart's directory when started without -f). */
  paths: string[];
  watch: boolean;
  admin: { host: string; port: number };
  logLevel: LogLevel;
  accessLog: 'stdout' | 'off';
  workers: number;
  translate: TranslateOptions;
  /** Where global rate limits count (--redis); absent = none configured. */
  redis?: RedisSettings;
  /** Deadline for requests in flight on SIGTERM. */
  drainMs: number;
  /** Print each address as it starts listening. */
  print: (line: string) => void;
  /** The management API; absent: the admin listener serves health, metrics and /config only, unauthenticated. */
  management?: ManagementOptions;
}

/** The management API (admin listener) and its store. */
export interface ManagementOptions {
  /** Holds the SQLite store, the generated admin token and the audit log. */
  dataDir: string;
  store: 'sqlite' | 'etcd' | 'kubernetes';
  etcdEndpoints?: string[];
  /** Key prefix in etcd, so that fleets can share one etcd. */
  etcdPrefix?: string;
  /** Kubernetes mode: the API server to read the resources from, and its bearer token. */
  kubeServer?: string;
  kubeToken?: string;
  /** PEM of the CA that signed the API server's certificate. */
  kubeCa?: string;
  /** A Kubernetes static token file (token,user,uid,"groups"); without it, <dataDir>/admin-token. */
  tokenFile?: string;
  /** "namespace/name" of a Secret whose key tokens.csv holds more tokens in the same format, re-read on every change. */
  tokenSecret?: string;
  /** Anonymous callers may read and write (local development only). */
  allowAnonymous: boolean;
  audit: 'file' | 'stdout' | 'off';
  /** Serve the admin listener over TLS; with clientCa, client certificates authenticate. */
  tls?: { cert: string; key: string; clientCa?: string };
}
