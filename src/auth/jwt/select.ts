// Several providers may accept a token at one location; the token's `iss`
// picks which (Envoy: the location's issuer checker, then findByIssuer).
// This is the slow path, taken after the candidates' caches missed.
import { parseJwt } from './parse.ts';
import type { JwtProvider, VerifyResult } from './provider.ts';
import type { JwtFailure } from './status.ts';

export type SelectOutcome =
  | { ok: true; index: number; result: VerifyResult & { ok: true } }
  | { ok: false; failure: JwtFailure; detail?: string; /** The provider that refused; -1 when none matched the issuer. */ index: number };

/**
 * Verify `token` against the first provider (in order) that accepts its issuer
 * and the token. No provider for the issuer → JwtUnknownIssuer. When every
 * matching provider refuses, the first refusal is reported.
 */
export function selectAndVerify(token: string, candidates: readonly JwtProvider[], nowMs: number): SelectOutcome | Promise<SelectOutcome> {
  const parsed = parseJwt(token);
  if (!parsed.ok) return { ok: false, failure: parsed.failure, index: -1 };
  const matching: number[] = [];
  for (let i = 0; i < candidates.length; i++) if (candidates[i].acceptsIssuer(parsed.jwt.iss)) matching.push(i);
  if (matching.length === 0) return { ok: false, failure: 'JwtUnknownIssuer', index: -1 };

  let firstFailure: SelectOutcome | undefined;
  const step = (k: number): SelectOutcome | Promise<SelectOutcome> => {
    for (; k < matching.length; k++) {
      const i = matching[k];
      const r = candidates[i].lookup(token, nowMs) ?? candidates[i].verifyParsed(parsed.jwt, nowMs);
      if (r instanceof Promise) {
        const next = k + 1;
        return r.then((res) => (res.ok ? { ok: true, index: i, result: res } : (note(res, i), step(next))));
      }
      if (r.ok) return { ok: true, index: i, result: r };
      note(r, i);
    }
    return firstFailure as SelectOutcome;
  };
  const note = (r: VerifyResult & { ok: false }, i: number): void => {
    firstFailure ??= r.detail === undefined ? { ok: false, failure: r.failure, index: i } : { ok: false, failure: r.failure, detail: r.detail, index: i };
  };
  return step(0);
}
