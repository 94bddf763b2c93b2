// The PROXY protocol (HAProxy's proxy-protocol.txt, v1 text and v2 binary)
// on a listener whose ClientTrafficPolicy sets `proxyProtocol` (or the
// deprecated `enableProxyProtocol: true`), as Envoy's proxy_protocol listener
// filter serves it for Envoy Gateway: the header a load balancer sends first
// on each connection (before the TLS ClientHello or the HTTP request) names
// the client, whose address becomes the connection's remote address — the
// peer every IP rule, X-Forwarded-For and the access log start from.
//
// - A connection without the header is closed, unless `optional` (Envoy's
//   allow_requests_without_proxy_protocol): then one whose first bytes are not
//   a signature is served as it is, with the socket's own peer.
// - A malformed header, a v2 one over 16 + MAX_V2_BODY bytes, AF_UNIX or a
//   datagram transport: closed (Envoy closes on any of them). v1 LOCAL-like
//   UNKNOWN and v2 LOCAL (a health check of the balancer itself) or AF_UNSPEC
//   keep the socket's own peer. v2 TLVs are skipped.
// - A header still incomplete when the listener's request-head bound expires
//   (connection-bounds.ts: from accept, whatever trickles in) is closed by it,
//   as a connection that never sends a request is.
//
// The cost is per connection, on listeners with the setting only: one read
// before TLS or HTTP see the socket, the rest put back (unshift), and the
// source address kept on the socket itself. Listeners without it pass each
// connection straight on.
import { isIPv4, isIPv6, type Server, type Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { IRProxyProtocol } from '../ir/types.ts';
import { gateConnections } from './connection-gate.ts';

const V1_SIGNATURE = Buffer.from('PROXY ', 'latin1');
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** A whole v1 line, "PROXY" to CRLF included (the spec's bound). */
export const MAX_V1_LENGTH = 107;
/**
 * The most address and TLV bytes a v2 header may carry here (the spec allows
 * 65535). Balancers send a few dozen bytes of TLVs (AWS, GCP, Azure endpoint
 * ids); a connection is not allowed to make the gateway hold 64 KiB unread.
 */
export const MAX_V2_BODY = 4096;
const V2_FIXED = 16;
const PORT = /^(?:0|[1-9][0-9]{0,4})$/;

export type ProxyHeader =
  /** The bytes so far are a prefix of a header: read more. */
  | { state: 'partial' }
  /** The bytes do not start with either signature: not a PROXY protocol connection. */
  | { state: 'absent' }
  | { state: 'invalid'; reason: string }
  /** `length` bytes are the header; `source` is the client (undefined: keep the socket's peer). */
  | { state: 'done'; length: number; source: string | undefined; sourcePort: number | undefined };

const PARTIAL: ProxyHeader = { state: 'partial' };
const ABSENT: ProxyHeader = { state: 'absent' };

const invalid = (reason: string): ProxyHeader => ({ state: 'invalid', reason });

/** How `buf` matches `sig` so far: 'no', 'prefix' (too short to tell) or 'yes'. */
function matchSignature(buf: Buffer, sig: Buffer): 'no' | 'prefix' | 'yes' {
  const n = Math.min(buf.length, sig.length);
  for (let i = 0; i < n; i++) if (buf[i] !== sig[i]) return 'no';
  return n === sig.length ? 'yes' : 'prefix';
}

/** Parse the PROXY protocol header at the start of `buf` (the connection's first bytes). */
export function parseProxyHeader(buf: Buffer): ProxyHeader {
  if (buf.length === 0) return PARTIAL;
  const sig = buf[0] === V1_SIGNATURE[0] ? V1_SIGNATURE : V2_SIGNATURE;
  const m = matchSignature(buf, sig);
  if (m === 'no') return ABSENT;
  if (m === 'prefix') return PARTIAL;
  return sig === V1_SIGNATURE ? parseV1(buf) : parseV2(buf);
}

function parseV1(buf: Buffer): ProxyHeader {
  const end = buf.indexOf(0x0a);
  if (end < 0 || end >= MAX_V1_LENGTH) return buf.length >= MAX_V1_LENGTH || end >= MAX_V1_LENGTH ? invalid(`v1 header longer than ${MAX_V1_LENGTH} bytes`) : PARTIAL;
  if (buf[end - 1] !== 0x0d) return invalid('v1 header does not end in CRLF');
  const parts = buf.toString('latin1', V1_SIGNATURE.length, end - 1).split(' ');
  const length = end + 1;
  // UNKNOWN: the balancer could not tell (anything may follow); the socket's peer stays.
  if (parts[0] === 'UNKNOWN') return { state: 'done', length, source: undefined, sourcePort: undefined };
  if (parts[0] !== 'TCP4' && parts[0] !== 'TCP6') return invalid(`v1 protocol "${parts[0].slice(0, 16)}" is not TCP4, TCP6 or UNKNOWN`);
  if (parts.length !== 5) return invalid('v1 header is not "PROXY TCP4|TCP6 <source> <destination> <source port> <destination port>"');
  const isFamily = parts[0] === 'TCP4' ? isIPv4 : isIPv6;
  if (!isFamily(parts[1]) || !isFamily(parts[2])) return invalid(`v1 addresses are not ${parts[0] === 'TCP4' ? 'IPv4' : 'IPv6'}`);
  for (const p of [parts[3], parts[4]]) if (!PORT.test(p) || Number(p) > 65535) return invalid(`v1 port "${p.slice(0, 8)}" is not 0-65535`);
  return { state: 'done', length, source: parts[0] === 'TCP6' ? parts[1].toLowerCase() : parts[1], sourcePort: Number(parts[3]) };
}

function parseV2(buf: Buffer): ProxyHeader {
  if (buf.length < V2_FIXED) return PARTIAL;
  const version = buf[12] >> 4;
  const command = buf[12] & 0x0f;
  if (version !== 2) return invalid(`v2 version ${version} is not 2`);
  if (command > 1) return invalid(`v2 command ${command} is not LOCAL or PROXY`);
  const bodyLength = buf.readUInt16BE(14);
  if (bodyLength > MAX_V2_BODY) return invalid(`v2 header of ${V2_FIXED + bodyLength} bytes is over the ${V2_FIXED + MAX_V2_BODY} allowed`);
  const length = V2_FIXED + bodyLength;
  if (buf.length < length) return PARTIAL;
  const family = buf[13] >> 4;
  const transport = buf[13] & 0x0f;
  // LOCAL: the balancer's own connection (a health check); its addresses, if any, mean nothing.
  if (command === 0 || family === 0) return { state: 'done', length, source: undefined, sourcePort: undefined };
  if (family > 2) return invalid(family === 3 ? 'v2 AF_UNIX addresses are not served' : `v2 address family ${family} is unknown`);
  if (transport !== 1) return invalid('v2 transport is not STREAM');
  if (family === 1) {
    if (bodyLength < 12) return invalid('v2 AF_INET addresses are shorter than 12 bytes');
    return { state: 'done', length, source: `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}`, sourcePort: buf.readUInt16BE(24) };
  }
  if (bodyLength < 36) return invalid('v2 AF_INET6 addresses are shorter than 36 bytes');
  return { state: 'done', length, source: ipv6Text(buf, 16), sourcePort: buf.readUInt16BE(48) };
}

/** The 16 bytes at `at` as an IPv6 address the way Node writes one (RFC 5952; IPv4-mapped as plain IPv4). */
export function ipv6Text(buf: Buffer, at: number): string {
  let mapped = buf[at + 10] === 0xff && buf[at + 11] === 0xff;
  for (let i = 0; i < 10 && mapped; i++) if (buf[at + i] !== 0) mapped = false;
  if (mapped) return `${buf[at + 12]}.${buf[at + 13]}.${buf[at + 14]}.${buf[at + 15]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(buf.readUInt16BE(at + i));
  // The longest run of two or more zero groups becomes "::" (the first, on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hex = (g: number[]): string => g.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLen))}`;
}

const kSource = Symbol('portcullis.proxySource');
type Tagged = { [kSource]?: string; _parent?: Tagged };

/** The connection's client: the PROXY header's source when it named one, else the socket's peer. */
export function proxiedAddress(socket: Socket): string | undefined {
  return (socket as Tagged)[kSource] ?? socket.remoteAddress;
}

/** Why a connection was closed unanswered: the metric's reason label (few values, unlike the detail). */
export type RefusedKind = 'proxy_protocol_missing' | 'proxy_protocol_invalid';

export interface ProxyProtocolOptions {
  /** The current snapshot's setting for the port (read per connection); undefined: none. */
  settings: () => IRProxyProtocol | undefined;
  /**
   * The wrapped listeners read the socket's JS buffer themselves (TLS: "socket
   * already has some buffered data"), so it stays paused; otherwise (the HTTP
   * parser, the h2c sniffer) it is resumed once they are attached.
   */
  tls: boolean;
  /** A connection closed for its header (`kind`: none, or not a valid one); `detail` says what was wrong. */
  onRefused: (kind: RefusedKind, detail: string, peer: string) => void;
}

/**
 * Read the PROXY protocol header of each connection on `server` before its own
 * connection listeners (TLS, HTTP, h2c) see a byte; call after those are attached.
 */
export function acceptProxyProtocol(server: Server, opts: ProxyProtocolOptions): void {
  gateConnections(server, (socket, handOn) => {
    const pp = opts.settings();
    if (pp === undefined) return handOn(socket);
    let head: Buffer | undefined;
    // Until a server owns the socket, a reset is this code's to handle (unhandled, it would throw).
    const onError = (): void => void socket.destroy();
    const onData = (chunk: Buffer): void => {
      head = head === undefined ? chunk : Buffer.concat([head, chunk]);
      const h = parseProxyHeader(head);
      if (h.state === 'partial') return;
      if (h.state === 'invalid' || (h.state === 'absent' && !pp.optional)) {
        socket.destroy();
        if (h.state === 'invalid') opts.onRefused('proxy_protocol_invalid', `PROXY protocol: ${h.reason}`, socket.remoteAddress ?? '-');
        else opts.onRefused('proxy_protocol_missing', 'PROXY protocol: no header', socket.remoteAddress ?? '-');
        return;
      }
      socket.off('data', onData);
      socket.off('error', onError);
      socket.pause();
      const rest = h.state === 'done' ? head.subarray(h.length) : head;
      if (h.state === 'done' && h.source !== undefined) (socket as Tagged)[kSource] = h.source;
      if (rest.length > 0) socket.unshift(rest);
      handOn(socket);
      if (!opts.tls) socket.resume();
    };
    socket.on('error', onError);
    socket.on('data', onData);
  });
  // Requests see the TLS socket that wraps the accepted one: it carries the source too.
  if (opts.tls) {
    server.prependListener('secureConnection', (tls: TLSSocket) => {
      const source = (tls as Tagged)._parent?.[kSource];
      if (source !== undefined) (tls as Tagged)[kSource] = source;
    });
  }
}
