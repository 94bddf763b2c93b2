// What a reload takes away that a user would want to hear about: a new
// configuration that serves no listener at all, or a listener left with no
// route (every request to it would be a 404), while the running one served.
import type { Snapshot } from '../ir/types.ts';

export function reloadWarnings(running: Snapshot | undefined, next: Snapshot): string[] {
  if (!running) return [];
  const out: string[] = [];
  if (running.listeners.length > 0 && next.listeners.length === 0) {
    out.push(`the new configuration removes every listener (${running.listeners.map((l) => l.name).join(', ')}): nothing will be served`);
    return out;
  }
  const before = new Map(running.listeners.map((l) => [l.port, l.routes.length]));
  for (const l of next.listeners) {
    if ((before.get(l.port) ?? 0) > 0 && l.routes.length === 0) out.push(`the new configuration removes every route of listener ${l.name}: it will answer 404 to everything`);
  }
  return out;
}
