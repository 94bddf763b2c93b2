// JWT key sources as plain data, shared by every JWT front end (Istio
// RequestAuthentication, Envoy Gateway SecurityPolicy jwt); src/auth/jwt reads them.

/** Where the keys come from. */
export type JwksConfig =
  | { type: 'inline'; jwks: string }
  | ({ type: 'remote'; uri: string } & RemoteTuning)
  | ({ type: 'discovery'; issuer: string } & RemoteTuning);

export interface RemoteTuning {
  timeoutMs: number;
  cacheDurationMs: number;
  cooldownMs?: number;
  failureBackoffMs?: number;
  maxStaleMs?: number;
}
