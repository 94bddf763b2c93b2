// ClientTrafficPolicy http1.preserveHeaderCase: HTTP/1 header names written
// in the case they arrived in, as Envoy's preserve_case header formatter does
// for Envoy Gateway (the client's request names upstream, the upstream's
// response names to the client). Headers the gateway adds itself
// (X-Forwarded-For, X-Request-Id, ...) stay lower case, the formatter's
// default for Envoy's own. Node keeps the names as received (rawHeaders,
// undici's raw response headers) and writes names as given: this restores
// them on the header object the filters worked on (lower-case names). Only
// requests on listeners that set it come here (one compiled route flag).

/**
 * `headers` with each name renamed to the case `raw` (a rawHeaders list:
 * name, value, name, value, ...) gave it; names `raw` lacks or sent in lower
 * case stay. The same object when no name changes.
 */
export function withRawCase<V>(headers: Record<string, V>, raw: readonly (string | Buffer)[]): Record<string, V> {
  let cased: Map<string, string> | undefined;
  for (let i = 0; i < raw.length; i += 2) {
    const r = raw[i];
    const name = typeof r === 'string' ? r : r.toString('latin1');
    const lower = name.toLowerCase();
    if (name !== lower && headers[lower] !== undefined) (cased ??= new Map()).set(lower, name);
  }
  if (cased === undefined) return headers;
  const out: Record<string, V> = {};
  for (const k of Object.keys(headers)) out[cased.get(k) ?? k] = headers[k];
  return out;
}
