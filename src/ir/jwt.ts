// JWT key sources as plain data, shared by every JWT front end (Istio
// RequestAuthentication, Envoy Gateway SecurityPolicy jwt); src/auth/jwt reads them.

/** Where the keys come from. */
export type JwksConfig =
  | { type: 'inline'; jwks: string }
  | ({ type: 'remote'; uri: string } & RemoteTuning)
  | ({ type: 'discovery'; issuer: string } & RemoteTuning);

export interface RemoteTuning {
  /** Fetched through a backendRef (SecurityPolicy remoteJWKS.backendRefs) instead of the uri's own host. */
  via?: JwksVia;
  timeoutMs: number;
  cacheDurationMs: number;
  cooldownMs?: number;
  failureBackoffMs?: number;
  maxStaleMs?: number;
}

/**
 * A JWKS fetched through backendRefs, as Envoy Gateway builds a cluster for
 * it: connections go to these endpoints, the request keeps the uri's path and
 * Host, and TLS (an https uri, or a Backend with tls) checks the uri's host
 * (or the Backend's sni) against the system roots (or the Backend's CA).
 */
export interface JwksVia {
  endpoints: { host: string; port: number }[];
  tls?: { sni?: string; caPem?: string; insecureSkipVerify?: boolean };
  /** Attempts over the endpoints, in turn: 1 + backendSettings.retry.numRetries. */
  attempts: number;
  /** backendSettings.timeout.tcp.connectTimeout. */
  connectTimeoutMs?: number;
}
