// Certificate lifetimes as users write them: "24h", "90m", "30d", "1h30m".

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
const WHOLE = /^(?:\d{1,6}[smhd])+$/;
const PART = /(\d+)([smhd])/g;

/** Longest lifetime we sign: a root lives ten years, nothing beyond. */
export const MAX_TTL_MS = 3650 * UNIT_MS.d;

/** Milliseconds for a duration like "24h" or "1h30m"; throws a user-facing Error otherwise. */
export function parseTtl(text: string): number {
  if (!WHOLE.test(text)) throw new Error(`invalid duration ${JSON.stringify(text)}: use e.g. 24h, 90m, 30d, 1h30m`);
  let ms = 0;
  for (const [, n, unit] of text.matchAll(PART)) ms += Number(n) * UNIT_MS[unit];
  if (ms <= 0) throw new Error(`invalid duration ${JSON.stringify(text)}: must be positive`);
  if (ms > MAX_TTL_MS) throw new Error(`invalid duration ${JSON.stringify(text)}: at most 3650d`);
  return ms;
}
