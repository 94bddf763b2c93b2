/** One step of the decision trace: what a filter decided and why. */
export interface TraceEntry {
  filter: string;
  /** Resource that configured the filter ("AuthorizationPolicy/ns/name"). */
  origin?: string;
  decision: 'allow' | 'deny' | 'continue' | 'audit' | 'error' | 'info';
  reason: string;
}
