// TLS session resumption, as ClientTrafficPolicy tls.session.resumption asks
// (Envoy Gateway's default: none). Node resumes with session tickets by
// default (TLS 1.2 and 1.3, keys random per server); on a listener a policy
// covers:
// - no resumption: SSL_OP_NO_TICKET, and no session-id cache;
// - stateless: tickets, with keys derived from the listener's certificate key,
//   its port and its client validation, so that every worker (and a restart)
//   encrypts them alike, and a changed client validation invalidates them;
// - stateful: a session-id cache in this process (OpenSSL's server cache
//   through Node's newSession/resumeSession events), bounded, emptied on every
//   snapshot. Workers do not share it: a client that lands on another worker
//   makes a full handshake (as a client that meets another Envoy replica).
import { constants, createHash, hkdfSync } from 'node:crypto';
import type { IRListener } from '../ir/types.ts';

/** Sessions kept per listener for session-id resumption, oldest dropped first. */
const MAX_SESSIONS = 10_000;

/** The secure context options resumption sets: no ticket unless stateless (absent resumption: Node's defaults). */
export function resumptionOptions(l: IRListener): { secureOptions?: number } {
  const r = l.tls?.resumption;
  return r && !r.stateless ? { secureOptions: constants.SSL_OP_NO_TICKET } : {};
}

/** Stateless: 48 bytes of ticket keys (name, HMAC and AES keys) the same in every worker for this configuration. */
export function ticketKeysFor(l: IRListener): Buffer | undefined {
  const tls = l.tls;
  if (!tls?.resumption?.stateless || tls.certificates.length === 0) return undefined;
  const cv = tls.clientValidation;
  const validation = createHash('sha256').update(JSON.stringify(cv ?? null)).digest('hex');
  return Buffer.from(hkdfSync('sha256', tls.certificates[0].keyPem, `portcullis/tls-tickets/${l.port}`, validation, 48));
}

interface SessionServer {
  on(event: 'newSession', fn: (id: Buffer, data: Buffer, cb: () => void) => void): unknown;
  on(event: 'resumeSession', fn: (id: Buffer, cb: (err: Error | null, data: Buffer | null) => void) => void): unknown;
}

/** The session-id cache of one listening server; `stateful` says, per handshake, whether the current snapshot wants it. */
export function serveSessionIds(server: SessionServer, stateful: () => boolean): { clear(): void } {
  const sessions = new Map<string, Buffer>();
  server.on('newSession', (id, data, cb) => {
    if (stateful()) {
      if (sessions.size >= MAX_SESSIONS) sessions.delete(sessions.keys().next().value!);
      sessions.set(id.toString('hex'), data);
    }
    cb();
  });
  server.on('resumeSession', (id, cb) => cb(null, stateful() ? (sessions.get(id.toString('hex')) ?? null) : null));
  return { clear: () => sessions.clear() };
}
