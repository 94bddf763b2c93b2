// What every load generator is asked to do and what it reports, whatever the tool.

/** What every response must look like, when a run also verifies them (warm-up, reload). */
export interface ResponseExpectation {
  status: number;
  body: string;
  /** Lowercase names. */
  headers: Record<string, string>;
}

export interface LoadSpec {
  /** Full URL of the request (path included). */
  url: string;
  /** Extra request headers (lowercase names; `host` allowed). */
  headers: Record<string, string>;
  connections: number;
  /** Load generator threads (wrk); autocannon ignores it. */
  threads: number;
  durationSec: number;
  /**
   * Check every response (costs the load generator CPU: for warm-ups and the
   * reload run, never for timed throughput runs).
   */
  verify?: ResponseExpectation;
  /** Each request carries the next value of this header, in turn (wrk only). */
  rotate?: { header: string; values: string[] };
}

export interface Verification {
  checked: number;
  mismatches: number;
  /** The first mismatching response, described. */
  example?: string;
}

export interface LoadErrors {
  connect: number;
  read: number;
  write: number;
  timeout: number;
  /** Responses with a status the tool counts as failure (wrk: ≥ 400; autocannon and paced: not 2xx). */
  status: number;
}

export interface LoadResult {
  tool: string;
  requests: number;
  durationSec: number;
  /** Completed requests per second (errors included: a run with errors is never counted as throughput). */
  rps: number;
  errors: LoadErrors;
  errorCount: number;
  /** Latency percentiles in microseconds. */
  latencyUs: { p50: number; p90: number; p99: number; max: number };
  /** Present when the spec asked to verify responses. */
  verified?: Verification;
}

export interface LoadGenerator {
  tool: string;
  version: string;
  run(spec: LoadSpec): Promise<LoadResult>;
}

export function sumErrors(e: LoadErrors): number {
  return e.connect + e.read + e.write + e.timeout + e.status;
}
