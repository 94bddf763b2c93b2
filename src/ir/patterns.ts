// String patterns as plain data (they travel in the IR); src/authz/string-match.ts compiles them.

/**
 * One pattern, with Envoy's StringMatcher/HeaderMatcher semantics:
 * - exact / prefix / suffix: as named (prefix and suffix are never empty);
 * - nonEmpty: the value exists and is not empty (Envoy's regex ".+");
 * - present: the value exists, even empty (Envoy's HeaderMatcher present_match).
 */
export type StringPattern =
  | { kind: 'exact' | 'prefix' | 'suffix'; value: string }
  | { kind: 'nonEmpty' | 'present' };
