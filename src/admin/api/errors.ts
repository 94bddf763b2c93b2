// Errors as the Kubernetes API answers them: a `Status` object with a reason
// and an HTTP code (k8s.io/apimachinery/pkg/api/errors).
export type Reason =
  | 'BadRequest' | 'Unauthorized' | 'Forbidden' | 'NotFound' | 'AlreadyExists' | 'Conflict' | 'Invalid'
  | 'MethodNotAllowed' | 'NotAcceptable' | 'UnsupportedMediaType' | 'RequestEntityTooLarge' | 'Expired' | 'Gone' | 'InternalError' | 'ServiceUnavailable';

const CODES: Record<Reason, number> = {
  BadRequest: 400, Unauthorized: 401, Forbidden: 403, NotFound: 404, MethodNotAllowed: 405, NotAcceptable: 406,
  AlreadyExists: 409, Conflict: 409, Gone: 410, Expired: 410, RequestEntityTooLarge: 413, UnsupportedMediaType: 415,
  Invalid: 422, InternalError: 500, ServiceUnavailable: 503,
};

export interface Cause {
  reason: string;
  message: string;
  field?: string;
}

export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: Cause[];
}

export class ApiError extends Error {
  readonly reason: Reason;
  readonly code: number;
  readonly details: StatusDetails | undefined;
  constructor(reason: Reason, message: string, details?: StatusDetails) {
    super(message);
    this.reason = reason;
    this.code = CODES[reason];
    this.details = details;
  }
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure' | 'Success';
  message?: string;
  reason?: Reason;
  details?: StatusDetails;
  code: number;
}

export function statusOf(err: ApiError): StatusObject {
  const s: StatusObject = { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message: err.message, reason: err.reason, code: err.code };
  if (err.details) s.details = err.details;
  return s;
}

/** `authorizationpolicies.security.istio.io "name"`, the way Kubernetes names an object in messages. */
export function qualified(plural: string, group: string, name?: string): string {
  const resource = group ? `${plural}.${group}` : plural;
  return name === undefined ? resource : `${resource} "${name}"`;
}
