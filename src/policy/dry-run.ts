// Shadow mode: a policy annotated `istio.io/dry-run: "true"` is evaluated on
// every request it applies to, its would-be decision recorded (decision trace,
// access log `dry_run`, metric portcullis_dry_run_decisions_total{policy,decision},
// `portcullis explain`), and never enforced — so an operator can roll a policy
// out against real traffic before it bites.
//
// Istio's annotation on AuthorizationPolicy; the same annotation is the
// documented shadow switch for the Portcullis-served Envoy Gateway policies
// that decide per request (SecurityPolicy authorization, BackendTrafficPolicy
// rate limits). Each family calls the two functions below: dryRunAnnotation()
// when it translates the resource, recordDryRun() where it would have
// enforced.

export const DRY_RUN_ANNOTATION = 'istio.io/dry-run';

/** The annotation's value: true/false (Istio's strconv.ParseBool spellings), or an error to report (the policy is then enforced). */
export function dryRunAnnotation(annotations: Record<string, unknown> | undefined): { dryRun: boolean; error?: string } {
  const v = annotations?.[DRY_RUN_ANNOTATION];
  if (v === undefined) return { dryRun: false };
  if (typeof v === 'string') {
    if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(v)) return { dryRun: true };
    if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(v)) return { dryRun: false };
  }
  return { dryRun: false, error: `failed to parse the value of ${DRY_RUN_ANNOTATION}: must be true or false; the policy is enforced` };
}

/** What a shadow policy would have done to one request. */
export interface DryRunDecision {
  /** "AuthorizationPolicy/ns/name", "SecurityPolicy/ns/name", ... */
  policy: string;
  decision: 'allow' | 'deny';
}

/** Where a request keeps its shadow decisions (RequestContext has this shape). */
export interface DryRunSink {
  dryRun: DryRunDecision[] | undefined;
}

/** Record a shadow decision on the request: the observer logs and counts it when the request is answered. */
export function recordDryRun(ctx: DryRunSink, policy: string, decision: DryRunDecision['decision']): void {
  (ctx.dryRun ??= []).push({ policy, decision });
}
