// A filter's compile context outside a snapshot, for tests that compile one filter module directly.
import type { CompileContext } from '../../src/filters/types.ts';
import type { IRListener, Snapshot } from '../../src/ir/types.ts';

export function bareCompileContext(origin: string): CompileContext {
  return { snapshot: {} as Snapshot, origin, listener: {} as IRListener };
}
