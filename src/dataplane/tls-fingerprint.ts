// ClientTrafficPolicy tls.fingerprints: the JA3 / JA4 fingerprint of each
// connection's ClientHello (client-hello.ts), as Envoy's tls_inspector
// computes them for Envoy Gateway. Node's TLS server never shows the
// ClientHello, so the bytes are peeked before it sees the socket: read up to
// the whole hello (MAX_HELLO_BYTES at most), all of them put back (unshift),
// then the TLS server takes the socket as if nothing had read it.
//
// - Only listeners whose policy asks pay anything; others pass each
//   connection straight on (one function call).
// - Not a ClientHello, a malformed or an oversized one: no fingerprint, and
//   the TLS server decides (it refuses what is not TLS).
// - After the PROXY protocol header (proxy-protocol.ts wraps this): that
//   reader hands the socket on with the header taken off.
// - A client that sends nothing is the request-head bound's to close
//   (connection-bounds.ts), as for any silent connection; one that
//   half-closes before a whole hello is closed (no handshake can follow).
// The fingerprints are kept on the accepted socket; fingerprintsOf() reads
// them from the TLS socket that wraps it (its _parent).
import type { Server } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { ja3, ja4, readClientHello } from './client-hello.ts';
import { gateConnections } from './connection-gate.ts';

export type FingerprintKind = 'JA3' | 'JA4';

export interface Fingerprints {
  ja3?: string;
  ja4?: string;
}

const kPrints = Symbol('portcullis.tlsFingerprints');
type Tagged = { [kPrints]?: Fingerprints; _parent?: Tagged };

/** The connection's fingerprints (those its listener asked for), when its ClientHello was read. */
export function fingerprintsOf(tls: TLSSocket): Fingerprints | undefined {
  const t = tls as unknown as Tagged;
  return t[kPrints] ?? t._parent?.[kPrints];
}

/**
 * Peek each connection's ClientHello on `server` before its own connection
 * listeners (TLS) see it; call after those are attached, before the PROXY
 * protocol reader is. `kinds` is read per connection (the current snapshot's).
 */
export function acceptFingerprints(server: Server, kinds: () => readonly FingerprintKind[] | undefined): void {
  gateConnections(server, (socket, handOn) => {
    const want = kinds();
    if (want === undefined || want.length === 0) return handOn(socket);
    let head: Buffer | undefined;
    const onError = (): void => void socket.destroy();
    const done = (): void => {
      socket.off('data', onData);
      socket.off('end', onError);
      socket.off('error', onError);
      socket.pause();
      if (head !== undefined) socket.unshift(head);
      handOn(socket);
    };
    const onData = (chunk: Buffer): void => {
      head = head === undefined ? chunk : Buffer.concat([head, chunk]);
      const r = readClientHello(head);
      if (r.state === 'partial') return;
      if (r.state === 'done') {
        const prints: Fingerprints = {};
        if (want.includes('JA3')) prints.ja3 = ja3(r.hello);
        if (want.includes('JA4')) prints.ja4 = ja4(r.hello);
        (socket as unknown as Tagged)[kPrints] = prints;
      }
      done();
    };
    socket.on('error', onError);
    socket.on('data', onData);
    // A client that half-closes before a whole hello could not finish a handshake (and unshift after end throws).
    socket.on('end', onError);
    // The PROXY protocol reader leaves the socket paused for TLS.
    socket.resume();
  });
}
