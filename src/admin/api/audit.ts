// The audit log: one JSON line per accepted change (who, what, when, and the
// resourceVersion before and after), appended to <data-dir>/audit.log.
import { appendFileSync } from 'node:fs';
import type { Identity } from './auth.ts';

export interface AuditRecord {
  verb: 'create' | 'update' | 'patch' | 'apply' | 'delete';
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
  uid?: string;
  oldResourceVersion?: string;
  newResourceVersion?: string;
}

export class AuditLog {
  readonly file: string | undefined;
  private onError: (err: Error) => void;
  constructor(file: string | undefined, onError: (err: Error) => void) {
    this.file = file;
    this.onError = onError;
  }

  record(who: Identity, rec: AuditRecord): void {
    if (!this.file) return;
    const line = JSON.stringify({ time: new Date().toISOString(), user: who.user, groups: who.groups, authenticatedBy: who.method, ...rec });
    try {
      // Synchronous: the line is on disk before the client hears that the change was made.
      appendFileSync(this.file, line + '\n', { mode: 0o600 });
    } catch (err) {
      this.onError(err as Error);
    }
  }
}
