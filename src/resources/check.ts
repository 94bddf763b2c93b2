// Validation of loaded resources: every schema issue becomes a ConfigError
// that names the file, the document, the object, the field path and its line.
import type { LoadedResource } from './types.ts';
import { formatPath, type ConfigError } from './errors.ts';
import { validateResource } from './validate.ts';

export interface CheckResult {
  valid: LoadedResource[];
  errors: ConfigError[];
}

function objectName(r: LoadedResource): string | undefined {
  const res = r.resource as { kind?: unknown; metadata?: { name?: unknown; namespace?: unknown } };
  if (typeof res?.kind !== 'string') return undefined;
  const name = typeof res.metadata?.name === 'string' ? res.metadata.name : '?';
  const ns = typeof res.metadata?.namespace === 'string' ? res.metadata.namespace : undefined;
  return ns ? `${res.kind}/${ns}/${name}` : `${res.kind}/${name}`;
}

/** Issues of immutable resources, by object: 10,000 stored policies are validated once, not on every rebuild. */
const checkedOnce = new WeakMap<object, ReturnType<typeof validateResource>>();

function issuesOf(r: LoadedResource): ReturnType<typeof validateResource> {
  if (!r.immutable || r.resource === null || typeof r.resource !== 'object') return validateResource(r.resource);
  let issues = checkedOnce.get(r.resource);
  if (!issues) checkedOnce.set(r.resource, (issues = validateResource(r.resource)));
  return issues;
}

export function checkResources(loaded: readonly LoadedResource[]): CheckResult {
  const valid: LoadedResource[] = [];
  const errors: ConfigError[] = [];
  const seen = new Map<string, LoadedResource>();
  for (const r of loaded) {
    const issues = issuesOf(r);
    const object = objectName(r);
    if (issues.length > 0) {
      for (const i of issues) {
        errors.push({ object, path: formatPath(i.path) || undefined, message: i.message, source: r.source, line: r.source?.lineOf?.(i.path) });
      }
      continue;
    }
    const key = `${r.resource.apiVersion.split('/')[0]}|${r.resource.kind}/${r.resource.metadata.namespace ?? 'default'}/${r.resource.metadata.name}`;
    const prev = seen.get(key);
    if (prev) {
      const where = prev.source ? ` (first defined at ${prev.source.file}:${prev.source.line})` : '';
      errors.push({ object, message: `defined twice${where}`, source: r.source });
      continue;
    }
    seen.set(key, r);
    valid.push(r);
  }
  return { valid, errors };
}
