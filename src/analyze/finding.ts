// One finding of `portcullis analyze`: a stable code (documented in
// docs/analyze.md, never reused), the object, where it is written, what is
// wrong and the one-line fix.

export type Level = 'error' | 'warning';

export interface Finding {
  code: string;
  level: Level;
  /** "Kind/ns/name". */
  object: string;
  /** "file:line", when the object came from a file. */
  at?: string;
  message: string;
  fix: string;
}

/** The catalogue: code → level and title. Codes are stable; a retired code is never given to another check. */
export const CODES = {
  PC0101: { level: 'warning', title: 'a route references a backend that does not exist' },
  PC0102: { level: 'warning', title: 'a route is attached to no listener' },
  PC0103: { level: 'warning', title: 'a listener rejects every route that names it' },
  PC1001: { level: 'error', title: 'a policy selects no workload or Gateway' },
  PC1002: { level: 'error', title: 'a policy targetRef names an object that does not exist' },
  PC2001: { level: 'warning', title: 'an ALLOW rule is shadowed by a DENY rule' },
  PC2002: { level: 'warning', title: 'a rule can never match' },
  PC3001: { level: 'warning', title: 'a route is reachable without authentication while its siblings require it' },
  PC3002: { level: 'warning', title: 'an ALLOW rule allows everything next to narrower ALLOW rules' },
  PC3003: { level: 'error', title: 'path normalization is weaker than a DENY list assumes' },
} as const satisfies Record<string, { level: Level; title: string }>;

export type Code = keyof typeof CODES;

export function finding(code: Code, object: string, at: string | undefined, message: string, fix: string): Finding {
  return { code, level: CODES[code].level, object, ...(at ? { at } : {}), message, fix };
}

/** "warning PC1001 file.yaml:3 AuthorizationPolicy/ns/name: message (fix: ...)" */
export function formatFinding(f: Finding): string {
  return `${f.level} ${f.code} ${f.at ? `${f.at} ` : ''}${f.object}: ${f.message}\n  fix: ${f.fix}`;
}
