// Retries counted per backend, process-wide (like the rate-limit store's
// error counts): the retry decorator adds, /metrics reads at scrape time.
// Keys are backend ids from the configuration, so the map stays as small as it.
const counts = new Map<string, number>();

export function countRetry(backend: string): void {
  counts.set(backend, (counts.get(backend) ?? 0) + 1);
}

export function retryCounts(): ReadonlyMap<string, number> {
  return counts;
}
