// Placeholder until the schema registry lands: checks the envelope only.
export interface ValidationIssue {
  path: (string | number)[];
  message: string;
}

export function validateResource(obj: unknown): ValidationIssue[] {
  if (typeof obj !== 'object' || obj === null) return [{ path: [], message: 'must be an object' }];
  const r = obj as Record<string, unknown>;
  const issues: ValidationIssue[] = [];
  if (typeof r.apiVersion !== 'string') issues.push({ path: ['apiVersion'], message: 'missing required field "apiVersion"' });
  if (typeof r.kind !== 'string') issues.push({ path: ['kind'], message: 'missing required field "kind"' });
  const md = r.metadata as Record<string, unknown> | undefined;
  if (!md || typeof md.name !== 'string') issues.push({ path: ['metadata', 'name'], message: 'missing required field "name"' });
  return issues;
}
