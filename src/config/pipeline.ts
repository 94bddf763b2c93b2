// sources → resources → translate, for a set of files. Shared by `run`,
// `validate` and `explain`, so that all three see the same configuration.
import { loadPaths } from '../resources/load.ts';
import { checkResources } from '../resources/check.ts';
import type { ConfigError } from '../resources/errors.ts';
import type { LoadedResource } from '../resources/types.ts';
import type { Snapshot } from '../ir/types.ts';
import { translate, type TranslateOptions } from '../translate/index.ts';

export interface BuildResult {
  /** Absent when any error makes the configuration unusable. */
  snapshot?: Snapshot;
  /** What translate made of the valid resources, even when errors keep it from serving (golden tests, status). */
  translated: Snapshot;
  /** Load, validation and translation errors; any of them rejects the snapshot. */
  errors: ConfigError[];
  /** Policies rejected on their own; the snapshot serves with their hops treated conservatively. */
  policyErrors: ConfigError[];
  resources: LoadedResource[];
  files: string[];
}

export async function buildFromPaths(paths: readonly string[], options: TranslateOptions): Promise<BuildResult> {
  const loaded = await loadPaths(paths);
  return buildFromResources(loaded.resources, options, loaded.errors, loaded.files);
}

export function buildFromResources(resources: LoadedResource[], options: TranslateOptions, loadErrors: ConfigError[] = [], files: string[] = []): BuildResult {
  const checked = checkResources(resources);
  const errors = [...loadErrors, ...checked.errors];
  const t = translate(checked.valid, options);
  errors.push(...t.errors);
  return { snapshot: errors.length === 0 ? t.snapshot : undefined, translated: t.snapshot, errors, policyErrors: t.policyErrors, resources: checked.valid, files };
}
