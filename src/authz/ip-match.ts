// CIDR sets for address checks (Istio ipBlocks/remoteIpBlocks, source.ip,
// destination.ip; reusable by any IP allow/deny list). Blocks are parsed and
// grouped once per snapshot; a lookup parses the address into numbers held in
// a module-level scratch buffer and does one Set probe per distinct IPv4
// prefix length, so the hot path allocates nothing.
//
// IPv4-mapped IPv6 addresses (::ffff:a.b.c.d, what a dual-stack socket reports
// for an IPv4 client) are looked up as the IPv4 address they carry, and an
// IPv4-mapped block (::ffff:0:0/96 and longer) is stored as the IPv4 block it
// denotes, so one policy written with IPv4 blocks covers both socket kinds.

export interface ParsedCidr {
  /** 4 for IPv4, 6 for IPv6. */
  family: 4 | 6;
  /** Words of the (masked) network address: one for IPv4, four for IPv6. */
  words: number[];
  prefix: number;
}

// Module-level scratch buffers: parsing is synchronous and never re-entered.
const scratch = new Uint32Array(4);
const groupsScratch = new Uint16Array(8);
const fullScratch = new Uint16Array(8);

/** Parses "a.b.c.d" into a uint32, or -1. Leading zeros are refused, as Go's netip does. */
export function parseIPv4(s: string, start = 0, end = s.length): number {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (c === 46 /* . */) {
      if (digits === 0) return -1;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      if (++dots > 3) return -1;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return -1; // leading zero
      part = part * 10 + (c - 48);
      if (part > 255) return -1;
      digits++;
    } else {
      return -1;
    }
  }
  if (dots !== 3 || digits === 0) return -1;
  return value * 256 + part;
}

/**
 * Parses an IPv6 address into `out` (4 words). Accepts "::" compression and a
 * trailing dotted IPv4 part; refuses zones ("%eth0") and anything malformed.
 */
export function parseIPv6(s: string, out: Uint32Array | number[]): boolean {
  const groups = groupsScratch;
  let n = 0; // groups written
  let gap = -1; // index in groups where "::" was
  let i = 0;
  const len = s.length;
  if (len < 2) return false;
  if (s.charCodeAt(0) === 58 /* : */) {
    if (s.charCodeAt(1) !== 58) return false;
    gap = 0;
    i = 2;
    if (i === len) return fill(groups, n, gap, out);
  }
  while (i < len) {
    if (n >= 8) return false;
    // An embedded IPv4 tail: only where two groups remain.
    let j = i;
    let hex = 0;
    let digits = 0;
    while (j < len) {
      const c = s.charCodeAt(j);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      hex = hex * 16 + d;
      digits++;
      j++;
    }
    if (j < len && s.charCodeAt(j) === 46 /* . */) {
      if (n > 6) return false;
      const v4 = parseIPv4(s, i, len);
      if (v4 < 0) return false;
      groups[n++] = v4 >>> 16;
      groups[n++] = v4 & 0xffff;
      i = len;
      break;
    }
    if (digits === 0 || digits > 4) return false;
    groups[n++] = hex;
    i = j;
    if (i === len) break;
    if (s.charCodeAt(i) !== 58) return false;
    i++;
    if (i < len && s.charCodeAt(i) === 58) {
      if (gap >= 0) return false;
      gap = n;
      i++;
      if (i === len) break;
    } else if (i === len) {
      return false; // trailing single colon
    }
  }
  return fill(groups, n, gap, out);
}

function fill(groups: Uint16Array, n: number, gap: number, out: Uint32Array | number[]): boolean {
  if (gap < 0 && n !== 8) return false;
  if (gap >= 0 && n > 7) return false;
  const full = fullScratch;
  full.fill(0);
  if (gap < 0) {
    for (let k = 0; k < 8; k++) full[k] = groups[k];
  } else {
    const tail = n - gap;
    for (let k = 0; k < gap; k++) full[k] = groups[k];
    for (let k = 0; k < tail; k++) full[8 - tail + k] = groups[gap + k];
  }
  for (let w = 0; w < 4; w++) out[w] = ((full[2 * w] << 16) | full[2 * w + 1]) >>> 0;
  return true;
}

function isV4Mapped(w: ArrayLike<number>): boolean {
  return w[0] === 0 && w[1] === 0 && w[2] === 0xffff;
}

function maskOf(bits: number): number {
  return bits <= 0 ? 0 : bits >= 32 ? 0xffffffff : (0xffffffff << (32 - bits)) >>> 0;
}

/** Parses "10.0.0.0/8", "10.1.2.3", "2001:db8::/32" or "::1". Returns an error message on bad input. */
export function parseCidr(text: string): ParsedCidr | string {
  if (typeof text !== 'string' || text.length === 0) return 'empty address';
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  let prefix: number | undefined;
  if (slash >= 0) {
    const p = text.slice(slash + 1);
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p)) return `bad CIDR range (${text}): invalid prefix length`;
    prefix = Number(p);
  }
  if (addr.includes(':')) {
    const w = [0, 0, 0, 0];
    if (!parseIPv6(addr, w)) return slash < 0 ? `bad IP address (${text})` : `bad CIDR range (${text}): invalid address`;
    const bits = prefix ?? 128;
    if (bits > 128) return `bad CIDR range (${text}): prefix length above 128`;
    if (isV4Mapped(w) && bits >= 96) return { family: 4, words: [(w[3] & maskOf(bits - 96)) >>> 0], prefix: bits - 96 };
    for (let k = 0; k < 4; k++) w[k] = (w[k] & maskOf(bits - 32 * k)) >>> 0;
    return { family: 6, words: w, prefix: bits };
  }
  const v4 = parseIPv4(addr);
  if (v4 < 0) return slash < 0 ? `bad IP address (${text})` : `bad CIDR range (${text}): invalid address`;
  const bits = prefix ?? 32;
  if (bits > 32) return `bad CIDR range (${text}): prefix length above 32`;
  return { family: 4, words: [(v4 & maskOf(bits)) >>> 0], prefix: bits };
}

/** A compiled set of CIDR blocks. */
export class IpMatcher {
  // IPv4: network addresses per prefix length, longest prefix first.
  readonly #v4Lengths: number[] = [];
  readonly #v4Masks: number[] = [];
  readonly #v4Sets: Set<number>[] = [];
  // IPv6: flat list of [w0, w1, w2, w3, prefix] records.
  readonly #v6: number[] = [];

  constructor(blocks: readonly ParsedCidr[]) {
    const byLen = new Map<number, Set<number>>();
    for (const b of blocks) {
      if (b.family === 4) {
        let set = byLen.get(b.prefix);
        if (!set) byLen.set(b.prefix, (set = new Set()));
        set.add(b.words[0]);
      } else {
        this.#v6.push(b.words[0], b.words[1], b.words[2], b.words[3], b.prefix);
      }
    }
    for (const len of [...byLen.keys()].sort((a, b) => b - a)) {
      this.#v4Lengths.push(len);
      this.#v4Masks.push(maskOf(len));
      this.#v4Sets.push(byLen.get(len)!);
    }
  }

  get size(): number {
    let n = this.#v6.length / 5;
    for (const s of this.#v4Sets) n += s.size;
    return n;
  }

  /** True when the address lies in one of the blocks; false for anything unparsable. */
  has(ip: string | undefined): boolean {
    if (!ip) return false;
    if (ip.includes(':')) {
      if (!parseIPv6(ip, scratch)) return false;
      if (isV4Mapped(scratch)) return this.#hasV4(scratch[3]);
      return this.#hasV6(scratch);
    }
    const v4 = parseIPv4(ip);
    return v4 >= 0 && this.#hasV4(v4);
  }

  #hasV4(v4: number): boolean {
    const sets = this.#v4Sets;
    for (let i = 0; i < sets.length; i++) {
      if (sets[i].has((v4 & this.#v4Masks[i]) >>> 0)) return true;
    }
    return false;
  }

  #hasV6(w: Uint32Array): boolean {
    const list = this.#v6;
    for (let i = 0; i < list.length; i += 5) {
      const bits = list[i + 4];
      let ok = true;
      for (let k = 0; k < 4 && ok; k++) {
        const m = maskOf(bits - 32 * k);
        if (m === 0) break;
        ok = ((w[k] & m) >>> 0) === list[i + k];
      }
      if (ok) return true;
    }
    return false;
  }
}

/** Parses every block; the bad ones come back as messages, the rest as a matcher. */
export function compileIpMatcher(blocks: readonly string[]): { matcher: IpMatcher; errors: string[] } {
  const parsed: ParsedCidr[] = [];
  const errors: string[] = [];
  for (const b of blocks) {
    const r = parseCidr(b);
    if (typeof r === 'string') errors.push(r);
    else parsed.push(r);
  }
  return { matcher: new IpMatcher(parsed), errors };
}
