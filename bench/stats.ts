// Small statistics over repeated runs.

export function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

export function ratio(subject: number | null, reference: number | null): number | null {
  if (subject === null || reference === null || reference <= 0) return null;
  return subject / reference;
}

/** The systems in a different order each repetition, so none always runs first (or right after a heavy one). */
export function rotate<T>(items: T[], by: number): T[] {
  if (items.length === 0) return items;
  const k = by % items.length;
  return [...items.slice(k), ...items.slice(0, k)];
}
