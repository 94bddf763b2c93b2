import { X509Certificate } from 'node:crypto';
import type { Snapshot } from '../ir/types.ts';

/** The snapshot as /config shows it: private keys never leave the process. */
export function redactSnapshot(s: Snapshot): Record<string, unknown> {
  return {
    ...s,
    backends: s.backends,
    listeners: s.listeners.map((l) => ({
      ...l,
      tls: l.tls && {
        ...l.tls,
        certificates: l.tls.certificates.map((c) => ({ hostnames: c.hostnames, source: c.source, ...certSummary(c.certPem) })),
        clientValidation: l.tls.clientValidation && { mode: l.tls.clientValidation.mode, ca: certSummary(l.tls.clientValidation.caPem), crls: l.tls.clientValidation.crlPems?.length },
      },
      routes: l.routes.map((r) => ({ ...r, filters: r.filters.map(redactFilter) })),
    })),
  };
}

/** Filter configs may hold credentials (API keys, password hashes, client secrets). */
const SECRET_KEY = /secret|password|passwd|htpasswd|credential|token|privatekey|apikey|^keys?$/i;

function redactFilter<T extends { config: unknown }>(f: T): T {
  return { ...f, config: redactValue(f.config) };
}

function redactValue(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(redactValue);
  if (v && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = SECRET_KEY.test(k) && (typeof x === 'string' || (x && typeof x === 'object')) ? '[redacted]' : redactValue(x);
    return out;
  }
  return v;
}

function certSummary(pem: string): { subject?: string; notAfter?: string; fingerprint256?: string } {
  try {
    const c = new X509Certificate(pem);
    return { subject: c.subject, notAfter: c.validTo, fingerprint256: c.fingerprint256 };
  } catch {
    return {};
  }
}
