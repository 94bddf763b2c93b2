// The correctness check run before a system is timed: one request, exactly as
// the load generator will send it, must get a 200 from the intended upstream
// through the intended route. A fast wrong answer is not a result.
import { request } from 'undici';
import type { Probe } from './config-gen.ts';
import type { LoadResult, ResponseExpectation } from './load/types.ts';
import { UPSTREAM_HEADER } from './upstream.ts';

export interface CheckResult {
  ok: boolean;
  detail: string;
  /** Response headers of the probe (for the record). */
  headers?: Record<string, string>;
}

export async function checkOnce(baseUrl: string, probe: Probe): Promise<CheckResult> {
  try {
    const res = await request(baseUrl + probe.path, { headers: probe.headers, headersTimeout: 5000, bodyTimeout: 5000 });
    const body = await res.body.text();
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(res.headers)) headers[k] = Array.isArray(v) ? v.join(', ') : String(v);
    const problems: string[] = [];
    if (res.statusCode !== 200) problems.push(`status ${res.statusCode} (want 200)`);
    if (headers[UPSTREAM_HEADER] !== probe.expect.upstream) problems.push(`${UPSTREAM_HEADER}: ${headers[UPSTREAM_HEADER] ?? '(none)'} (want ${probe.expect.upstream})`);
    if (body !== probe.expect.body) problems.push(`body ${JSON.stringify(body.slice(0, 80))} (want ${JSON.stringify(probe.expect.body)})`);
    for (const [name, want] of Object.entries(probe.expect.headers)) {
      if (headers[name] !== want) problems.push(`${name}: ${headers[name] ?? '(none)'} (want ${want})`);
    }
    return problems.length ? { ok: false, detail: problems.join('; '), headers } : { ok: true, detail: 'ok', headers };
  } catch (err) {
    return { ok: false, detail: `request failed: ${(err as Error).message}` };
  }
}

/** The probe's expectation in the form the load generators check under load. */
export function responseExpectation(probe: Probe, except: string[] = []): ResponseExpectation {
  const headers: Record<string, string> = { [UPSTREAM_HEADER]: probe.expect.upstream };
  for (const [name, value] of Object.entries(probe.expect.headers)) if (!except.includes(name)) headers[name] = value;
  return { status: 200, body: probe.expect.body, headers };
}

/** Describes what went wrong in a verified run, or undefined when every response was right. */
export function verificationProblem(r: LoadResult): string | undefined {
  const problems: string[] = [];
  if (r.errorCount > 0) problems.push(`${r.errorCount} errors ${JSON.stringify(r.errors)}`);
  if (r.verified && r.verified.mismatches > 0) problems.push(`${r.verified.mismatches} of ${r.verified.checked} responses wrong (first: ${r.verified.example ?? '?'})`);
  if (r.verified && r.verified.checked === 0) problems.push('no response was checked');
  return problems.length ? problems.join('; ') : undefined;
}
