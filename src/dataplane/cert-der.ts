// Just enough DER to read what Node's X509Certificate does not give whole:
// a certificate's issuer Name (its bytes, to find the CRL of the leaf's
// issuer) and its subjectAltName entries of every type (Node prints otherName
// as "<unsupported>" and quotes odd values). Malformed input throws; callers
// treat that as "does not match".
import { ipv6Text } from './proxy-protocol.ts';

interface Tlv {
  tag: number;
  /** Where the whole element starts, where its content starts and where it ends. */
  start: number;
  content: number;
  end: number;
}

function tlv(b: Uint8Array, at: number, limit = b.length): Tlv {
  if (at + 2 > limit) throw new Error('truncated DER');
  const tag = b[at];
  let len = b[at + 1];
  let p = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    if (n === 0 || n > 4 || p + n > limit) throw new Error('bad DER length');
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + b[p++];
  }
  if (p + len > limit) throw new Error('truncated DER');
  return { tag, start: at, content: p, end: p + len };
}

function children(b: Uint8Array, parent: Tlv): Tlv[] {
  const out: Tlv[] = [];
  for (let at = parent.content; at < parent.end; at = out[out.length - 1].end) out.push(tlv(b, at, parent.end));
  return out;
}

/** The TBSCertificate's fields, from the certificate's DER. */
function tbsFields(der: Uint8Array): Tlv[] {
  const cert = tlv(der, 0);
  return children(der, children(der, cert)[0]);
}

/** The issuer Name of a certificate (DER, hex): version [0] is optional, then serial, signature, issuer. */
export function issuerOfCertificate(der: Uint8Array): string {
  const f = tbsFields(der);
  const i = f[0].tag === 0xa0 ? 3 : 2;
  return Buffer.from(der.subarray(f[i].start, f[i].end)).toString('hex');
}

/** The issuer Name of a CRL (DER, hex): TBSCertList's version is an optional INTEGER, then signature, issuer. */
export function issuerOfCrl(der: Uint8Array): string {
  const f = children(der, children(der, tlv(der, 0))[0]);
  const i = f[0].tag === 0x02 ? 2 : 1;
  return Buffer.from(der.subarray(f[i].start, f[i].end)).toString('hex');
}

/** A dotted OID from its DER content. */
function oidText(b: Uint8Array, from: number, to: number): string {
  const parts: number[] = [];
  let v = 0;
  for (let i = from; i < to; i++) {
    v = v * 128 + (b[i] & 0x7f);
    if ((b[i] & 0x80) === 0) {
      if (parts.length === 0) parts.push(v < 80 ? Math.floor(v / 40) : 2, v < 80 ? v % 40 : v - 80);
      else parts.push(v);
      v = 0;
    }
  }
  return parts.join('.');
}

const SAN_OID = '2.5.29.17';

/** An ASN.1 string value (UTF8String, PrintableString, IA5String, BMPString...) as text; undefined for other types. */
function stringValue(b: Uint8Array, t: Tlv): string | undefined {
  const bytes = Buffer.from(b.subarray(t.content, t.end));
  switch (t.tag) {
    case 0x0c: return bytes.toString('utf8');
    case 0x12: case 0x13: case 0x14: case 0x16: case 0x1a: return bytes.toString('latin1');
    case 0x1e: return bytes.swap16().toString('utf16le');
    default: return undefined;
  }
}

export interface Sans {
  dns: string[];
  email: string[];
  ip: string[];
  uri: string[];
  /** otherName entries whose value is a string type, with their type OID. */
  other: { oid: string; value: string }[];
}

/** The certificate's subjectAltName entries by type (empty when it has none). */
export function subjectAltNames(der: Uint8Array): Sans {
  const out: Sans = { dns: [], email: [], ip: [], uri: [], other: [] };
  const exts = tbsFields(der).find((f) => f.tag === 0xa3);
  if (!exts) return out;
  for (const ext of children(der, children(der, exts)[0])) {
    const parts = children(der, ext);
    if (oidText(der, parts[0].content, parts[0].end) !== SAN_OID) continue;
    const value = parts[parts.length - 1];
    const names = tlv(der, value.content, value.end);
    for (const n of children(der, names)) {
      const text = (): string => Buffer.from(der.subarray(n.content, n.end)).toString('latin1');
      switch (n.tag) {
        case 0x81: out.email.push(text()); break;
        case 0x82: out.dns.push(text()); break;
        case 0x86: out.uri.push(text()); break;
        case 0x87: {
          const len = n.end - n.content;
          if (len === 4) out.ip.push(Array.from(der.subarray(n.content, n.end)).join('.'));
          else if (len === 16) out.ip.push(ipv6Text(Buffer.from(der.subarray(n.content, n.end)), 0));
          break;
        }
        case 0xa0: {
          const [oid, wrapped] = children(der, n);
          if (!oid || !wrapped || wrapped.tag !== 0xa0) break;
          const inner = tlv(der, wrapped.content, wrapped.end);
          const s = stringValue(der, inner);
          if (s !== undefined) out.other.push({ oid: oidText(der, oid.content, oid.end), value: s });
          break;
        }
      }
    }
  }
  return out;
}

/** A CRL's signed part, the signature algorithm's OID and the signature bytes, to check it against its issuer's key. */
export function crlSignature(der: Uint8Array): { tbs: Buffer; algorithm: string; signature: Buffer } {
  const [tbs, alg, sig] = children(der, tlv(der, 0));
  if (!tbs || !alg || !sig || sig.tag !== 0x03) throw new Error('not a CRL');
  const oid = children(der, alg)[0];
  return {
    tbs: Buffer.from(der.subarray(tbs.start, tbs.end)),
    algorithm: oidText(der, oid.content, oid.end),
    // A BIT STRING: its first byte counts the unused bits (0 for a signature).
    signature: Buffer.from(der.subarray(sig.content + 1, sig.end)),
  };
}
