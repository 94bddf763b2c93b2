// IR of BackendTrafficPolicy faultInjection (filter faultInjection).
export interface IRFaultInjection {
  delay?: { ms: number; percent: number };
  /** httpStatus, or for gRPC clients grpcStatus (answered as a trailers-only gRPC reply). */
  abort?: { httpStatus?: number; grpcStatus?: number; percent: number };
}
