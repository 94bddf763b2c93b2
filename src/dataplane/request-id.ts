// X-Request-Id values: random UUIDs (v4, as Envoy generates them).
// crypto.randomUUID() refills its entropy every 128 ids; on this kind of
// machine a getrandom call under load costs more than the id itself, so the
// bytes come from one 64 KiB refill per 4096 ids.
import { randomFillSync } from 'node:crypto';

const HEX: string[] = Array.from({ length: 256 }, (_, i) => (i + 0x100).toString(16).slice(1));
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
  return HEX[b[o]] + HEX[b[o + 1]] + HEX[b[o + 2]] + HEX[b[o + 3]] + '-' +
    HEX[b[o + 4]] + HEX[b[o + 5]] + '-' +
    HEX[(b[o + 6] & 0x0f) | 0x40] + HEX[b[o + 7]] + '-' +
    HEX[(b[o + 8] & 0x3f) | 0x80] + HEX[b[o + 9]] + '-' +
    HEX[b[o + 10]] + HEX[b[o + 11]] + HEX[b[o + 12]] + HEX[b[o + 13]] + HEX[b[o + 14]] + HEX[b[o + 15]];
}
