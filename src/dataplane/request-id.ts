// X-Request-Id values: random UUIDs (v4, as Envoy generates them).
// crypto.randomUUID() refills its entropy every 128 ids; on this kind of
// machine a getrandom call under load costs more than the id itself, so the
// bytes come from one 64 KiB refill per 4096 ids. The id is made by one
// String.fromCharCode of its 36 characters: one flat string, where joining 20
// pieces with + built 19 intermediate strings (~550 bytes) and then a flat copy
// when the header was written.
import { randomFillSync } from 'node:crypto';

/** HEX[2b], HEX[2b + 1]: the character codes of byte b's two lowercase hex digits. */
const HEX = new Uint8Array(512);
for (let b = 0; b < 256; b++) {
  const s = (b + 0x100).toString(16).slice(1);
  HEX[2 * b] = s.charCodeAt(0);
  HEX[2 * b + 1] = s.charCodeAt(1);
}
const DASH = 45;
const IDS_PER_REFILL = 4096;
const pool = Buffer.allocUnsafe(16 * IDS_PER_REFILL);
let offset = pool.length;

export function newRequestId(): string {
  if (offset === pool.length) {
    randomFillSync(pool);
    offset = 0;
  }
  const b = pool;
  const o = offset;
  offset += 16;
  const h = HEX;
  // Byte 6's high nibble is the version (4), byte 8's two high bits the variant (10).
  const b6 = (b[o + 6] & 0x0f) | 0x40;
  const b8 = (b[o + 8] & 0x3f) | 0x80;
  return String.fromCharCode(
    h[2 * b[o]], h[2 * b[o] + 1], h[2 * b[o + 1]], h[2 * b[o + 1] + 1], h[2 * b[o + 2]], h[2 * b[o + 2] + 1], h[2 * b[o + 3]], h[2 * b[o + 3] + 1], DASH,
    h[2 * b[o + 4]], h[2 * b[o + 4] + 1], h[2 * b[o + 5]], h[2 * b[o + 5] + 1], DASH,
    h[2 * b6], h[2 * b6 + 1], h[2 * b[o + 7]], h[2 * b[o + 7] + 1], DASH,
    h[2 * b8], h[2 * b8 + 1], h[2 * b[o + 9]], h[2 * b[o + 9] + 1], DASH,
    h[2 * b[o + 10]], h[2 * b[o + 10] + 1], h[2 * b[o + 11]], h[2 * b[o + 11] + 1], h[2 * b[o + 12]], h[2 * b[o + 12] + 1],
    h[2 * b[o + 13]], h[2 * b[o + 13] + 1], h[2 * b[o + 14]], h[2 * b[o + 14] + 1], h[2 * b[o + 15]], h[2 * b[o + 15] + 1],
  );
}
