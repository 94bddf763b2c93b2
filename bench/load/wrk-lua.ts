// The Lua scripts handed to wrk. Results come out of done() as one JSON line,
// never by scraping wrk's human output. A response() hook (verification) makes
// wrk parse every response in Lua, so it is only used when asked for.
import type { ResponseExpectation } from './types.ts';

export const RESULT_MARKER = 'BENCH_RESULT ';

/** A Lua 5.1 string literal (LuaJIT): escapes everything but printable ASCII. */
export function luaString(s: string): string {
  let out = '"';
  for (const byte of Buffer.from(s, 'utf8')) {
    if (byte >= 0x20 && byte < 0x7f && byte !== 0x22 && byte !== 0x5c) out += String.fromCharCode(byte);
    else out += `\\${byte.toString().padStart(3, '0')}`;
  }
  return out + '"';
}

const DONE = `
done = function(summary, latency, requests)
  local e = summary.errors
  local checked, bad, example = 0, 0, ""
  for _, t in ipairs(threads) do
    checked = checked + (t:get("checked") or 0)
    bad = bad + (t:get("bad") or 0)
    if example == "" then example = t:get("example") or "" end
  end
  io.write(string.format('${RESULT_MARKER}{"requests":%.0f,"duration_us":%.0f,"connect":%.0f,"read":%.0f,"write":%.0f,"status":%.0f,"timeout":%.0f,"p50":%.0f,"p90":%.0f,"p99":%.0f,"max":%.0f,"checked":%.0f,"bad":%.0f,"example":"%s"}\\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    checked, bad, example))
end
`;

const SETUP = `
threads = {}
setup = function(thread)
  table.insert(threads, thread)
  thread:set("id", #threads)
end
`;

function verifyHook(expect: ResponseExpectation): string {
  const wanted = Object.entries(expect.headers).map(([k, v]) => `  [${luaString(k.toLowerCase())}] = ${luaString(v)},`).join('\n');
  return `
checked, bad, example = 0, 0, nil
local want_status = ${expect.status}
local want_body = ${luaString(expect.body)}
local want_headers = {
${wanted}
}
response = function(status, headers, body)
  checked = checked + 1
  local why = nil
  if status ~= want_status then why = "status " .. status
  elseif body ~= want_body then why = "body " .. string.sub(tostring(body), 1, 60)
  else
    local lower = {}
    for k, v in pairs(headers) do lower[string.lower(k)] = v end
    for k, v in pairs(want_headers) do
      if lower[k] ~= v then why = k .. ": " .. tostring(lower[k]) .. " (want " .. v .. ")" break end
    end
  end
  if why then
    bad = bad + 1
    -- Kept JSON-safe: no control characters, quotes or backslashes.
    if not example then example = string.gsub(why, '[%c"\\\\]', "?") end
  end
end
`;
}

/**
 * Each request with the next value of one header: the requests are formatted
 * once per thread in init(), so the hook only picks a prebuilt string (each
 * thread starts at its own offset).
 */
function rotateHook(rotate: { header: string; values: string[] }): string {
  return `
local rotate_values = {
${rotate.values.map((v) => `  ${luaString(v)},`).join('\n')}
}
local prebuilt, count, at = {}, 0, 0
init = function(args)
  for i, v in ipairs(rotate_values) do
    wrk.headers[${luaString(rotate.header)}] = v
    prebuilt[i] = wrk.format()
  end
  count = #prebuilt
  at = (id or 0) * 7919 % count
end
request = function()
  at = at % count + 1
  return prebuilt[at]
end
`;
}

export function wrkScript(verify: ResponseExpectation | undefined, rotate?: { header: string; values: string[] }): string {
  return SETUP + (verify ? verifyHook(verify) : '') + (rotate ? rotateHook(rotate) : '') + DONE;
}
