// The TLS ClientHello, read from a connection's first bytes, and the two
// fingerprints of it Envoy's tls_inspector computes for Envoy Gateway's
// ClientTrafficPolicy tls.fingerprints:
// - JA3 (Salesforce): md5 of "version,ciphers,extensions,groups,point formats",
//   decimal values '-'-joined in the client's order, GREASE values left out;
// - JA4 (FoxIO): "t<version><d|i><cipher count><extension count><ALPN>_
//   <sha256 of the sorted ciphers>_<sha256 of the sorted extensions without
//   SNI and ALPN, '_', the signature algorithms in order>", hashes cut to 12.
// Pure functions: tls-fingerprint.ts feeds them the bytes before TLS sees them.
import { hash } from 'node:crypto';

export interface ClientHello {
  /** legacy_version of the handshake (0x0303 for TLS 1.2 and 1.3). */
  version: number;
  /** Every value in the client's order, GREASE included (the fingerprints leave it out). */
  ciphers: number[];
  extensions: number[];
  groups: number[];
  pointFormats: number[];
  signatureAlgorithms: number[];
  supportedVersions: number[];
  /** A server_name extension was sent. */
  sni: boolean;
  /** The first ALPN protocol offered, as bytes; undefined: no ALPN. */
  alpn: Buffer | undefined;
}

export type HelloRead =
  /** A prefix of a ClientHello: read more. */
  | { state: 'partial' }
  /** Not a ClientHello, or a malformed one: no fingerprint (the TLS server decides what to do with it). */
  | { state: 'none' }
  | { state: 'done'; hello: ClientHello };

/** The most bytes read before giving up on a ClientHello: one whole record, header included. */
export const MAX_HELLO_BYTES = 16_384 + 5;

const PARTIAL: HelloRead = { state: 'partial' };
const NONE: HelloRead = { state: 'none' };

/** RFC 8701: 0x0a0a, 0x1a1a ... 0xfafa. */
export const isGrease = (v: number): boolean => (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);

/**
 * The ClientHello at the start of `buf`: the handshake message may span
 * several handshake records (a large key share), all within MAX_HELLO_BYTES.
 */
export function readClientHello(buf: Buffer): HelloRead {
  // The handshake bytes of the records seen so far.
  const parts: Buffer[] = [];
  let have = 0;
  let at = 0;
  while (true) {
    if (buf.length - at < 5) return buf.length >= MAX_HELLO_BYTES ? NONE : PARTIAL;
    if (buf[at] !== 0x16 || buf[at + 1] !== 0x03) return NONE;
    const len = buf.readUInt16BE(at + 3);
    if (len === 0 || len > 16_384) return NONE;
    if (buf.length - at - 5 < len) return at + 5 + len > MAX_HELLO_BYTES ? NONE : PARTIAL;
    parts.push(buf.subarray(at + 5, at + 5 + len));
    have += len;
    at += 5 + len;
    if (have < 4) continue;
    const hs = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    if (hs[0] !== 0x01) return NONE;
    const bodyLen = (hs[1] << 16) | (hs[2] << 8) | hs[3];
    if (4 + bodyLen > MAX_HELLO_BYTES) return NONE;
    if (have < 4 + bodyLen) continue;
    const hello = parseHello(hs.subarray(4, 4 + bodyLen));
    return hello ? { state: 'done', hello } : NONE;
  }
}

/** A list of 16-bit values with a `lenBytes`-byte length prefix at `at`; undefined: malformed. */
function u16List(b: Buffer, at: number, end: number, lenBytes: 1 | 2): { list: number[]; next: number } | undefined {
  if (at + lenBytes > end) return undefined;
  const len = lenBytes === 1 ? b[at] : b.readUInt16BE(at);
  const start = at + lenBytes;
  if (len % 2 !== 0 || start + len > end) return undefined;
  const list: number[] = [];
  for (let i = start; i < start + len; i += 2) list.push(b.readUInt16BE(i));
  return { list, next: start + len };
}

function parseHello(b: Buffer): ClientHello | undefined {
  // legacy_version, random(32), session id.
  if (b.length < 35) return undefined;
  const version = b.readUInt16BE(0);
  let at = 34;
  at += 1 + b[at];
  const ciphers = u16List(b, at, b.length, 2);
  if (!ciphers) return undefined;
  at = ciphers.next;
  if (at >= b.length) return undefined;
  at += 1 + b[at];
  if (at > b.length) return undefined;
  const hello: ClientHello = { version, ciphers: ciphers.list, extensions: [], groups: [], pointFormats: [], signatureAlgorithms: [], supportedVersions: [], sni: false, alpn: undefined };
  // No extensions at all (SSLv3-style): a valid hello.
  if (at === b.length) return hello;
  if (at + 2 > b.length) return undefined;
  const end = at + 2 + b.readUInt16BE(at);
  if (end > b.length) return undefined;
  at += 2;
  while (at < end) {
    if (at + 4 > end) return undefined;
    const type = b.readUInt16BE(at);
    const dataEnd = at + 4 + b.readUInt16BE(at + 2);
    if (dataEnd > end) return undefined;
    const data = at + 4;
    hello.extensions.push(type);
    if (type === 0x0000) hello.sni = true;
    else if (type === 0x000a) hello.groups = u16List(b, data, dataEnd, 2)?.list ?? [];
    else if (type === 0x000b && data < dataEnd) hello.pointFormats = [...b.subarray(data + 1, Math.min(dataEnd, data + 1 + b[data]))];
    else if (type === 0x000d) hello.signatureAlgorithms = u16List(b, data, dataEnd, 2)?.list ?? [];
    else if (type === 0x002b) hello.supportedVersions = u16List(b, data, dataEnd, 1)?.list ?? [];
    else if (type === 0x0010 && data + 3 <= dataEnd) {
      // protocol_name_list length (2), then the first name's length (1).
      const n = b[data + 2];
      if (n > 0 && data + 3 + n <= dataEnd) hello.alpn = b.subarray(data + 3, data + 3 + n);
    }
    at = dataEnd;
  }
  return hello;
}

const notGrease = (v: number): boolean => !isGrease(v);

/** JA3's text ("771,4865-4866,0-23,29-23,0"), before the md5. */
export function ja3Text(h: ClientHello): string {
  const dec = (l: number[]): string => l.filter(notGrease).join('-');
  return `${h.version},${dec(h.ciphers)},${dec(h.extensions)},${dec(h.groups)},${h.pointFormats.join('-')}`;
}

export function ja3(h: ClientHello): string {
  return hash('md5', ja3Text(h), 'hex');
}

const JA4_VERSION: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0002: 's2', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3' };
const hex4 = (v: number): string => v.toString(16).padStart(4, '0');
const count = (n: number): string => String(Math.min(n, 99)).padStart(2, '0');
const sha12 = (s: string): string => hash('sha256', s, 'hex').slice(0, 12);
const EMPTY_HASH = '000000000000';
const byValue = (x: number, y: number): number => x - y;

/** ASCII letter or digit. */
const alnum = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);

/** The first and last characters of the first ALPN value ("00" without one; hex nibbles when not alphanumeric). */
function alpnChars(alpn: Buffer | undefined): string {
  if (alpn === undefined) return '00';
  const first = alpn[0];
  const last = alpn[alpn.length - 1];
  if (alnum(first) && alnum(last)) return String.fromCharCode(first, last);
  return (first >> 4).toString(16) + (last & 0x0f).toString(16);
}

/** JA4 over TCP (the "t" of "t13d..."). */
export function ja4(h: ClientHello): string {
  const ciphers = h.ciphers.filter(notGrease);
  const extensions = h.extensions.filter(notGrease);
  const versions = h.supportedVersions.filter(notGrease);
  let version = versions.length > 0 ? 0 : h.version;
  for (let i = 0; i < versions.length; i++) if (versions[i] > version) version = versions[i];
  const a = `t${JA4_VERSION[version] ?? '00'}${h.sni ? 'd' : 'i'}${count(ciphers.length)}${count(extensions.length)}${alpnChars(h.alpn)}`;
  // Four lowercase hex digits sort as the numbers do.
  const b = ciphers.length === 0 ? EMPTY_HASH : sha12(ciphers.sort(byValue).map(hex4).join(','));
  const hashed = extensions.filter((e) => e !== 0x0000 && e !== 0x0010).sort(byValue).map(hex4).join(',');
  const sigalgs = h.signatureAlgorithms.filter(notGrease).map(hex4).join(',');
  const c = hashed === '' ? EMPTY_HASH : sha12(sigalgs === '' ? hashed : `${hashed}_${sigalgs}`);
  return `${a}_${b}_${c}`;
}
