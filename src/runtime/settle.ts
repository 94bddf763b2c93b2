// Editors save in steps (truncate, then write; or write a temp file, then
// rename): a watched reload must not apply the file between two steps. So a
// reload first waits until the files are the same across one interval, and
// an empty file — what a truncation leaves — gets a longer look before it is
// believed.
import { stat } from 'node:fs/promises';
import { listConfigFiles } from '../resources/load.ts';

export interface SettleTiming {
  /** Files unchanged across this long count as settled. */
  quietMs: number;
  /** An empty file must stay empty this long before it is applied. */
  emptyMs: number;
  /** Give up waiting (and build what is there) after this long: a file rewritten nonstop still gets served. */
  maxMs: number;
}

export const SETTLE: SettleTiming = { quietMs: 100, emptyMs: 500, maxMs: 5000 };

/** Each config file's size and modification time, in one string. */
async function fingerprint(paths: readonly string[]): Promise<{ key: string; empty: boolean }> {
  const { files } = await listConfigFiles(paths);
  const parts: string[] = [];
  let empty = false;
  for (const f of files) {
    const st = await stat(f).catch(() => undefined);
    if (st && st.size === 0) empty = true;
    parts.push(`${f}\0${st?.size ?? -1}\0${st?.mtimeMs ?? -1}`);
  }
  return { key: parts.join('\n'), empty };
}

/** Resolves when the files have stopped changing (or after maxMs). Says whether an empty file was waited for. */
export async function settle(paths: readonly string[], t: SettleTiming = SETTLE): Promise<{ waitedForEmpty: boolean }> {
  const deadline = Date.now() + t.maxMs;
  let waitedForEmpty = false;
  let before = await fingerprint(paths);
  while (Date.now() < deadline) {
    const wait = before.empty ? t.emptyMs : t.quietMs;
    waitedForEmpty ||= before.empty;
    await new Promise((r) => setTimeout(r, wait));
    const now = await fingerprint(paths);
    if (now.key === before.key) break;
    before = now;
  }
  return { waitedForEmpty };
}
