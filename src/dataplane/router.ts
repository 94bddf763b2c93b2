// The compiled router of one listener: an index, not a scan.
//   hostname (exact table, then wildcard suffixes by label, then any)
//     → path (exact table, then regexes, then prefixes by path element)
//       → the few method/header/query checks left, in precedence order.
// Hostnames select a bucket the way Envoy selects a virtual host: the most
// specific hostname wins and there is no fallthrough to less specific ones.
import type { IncomingHttpHeaders } from 'node:http';
import type { IRMatch, IRValueMatch } from '../ir/types.ts';
import type { RouteInfo } from '../core/request.ts';
import { compileRegex, type LinearRegex } from '../match/regex.ts';

/** What the router needs of a compiled route (the data plane adds its handlers). */
export type CompiledRoute = RouteInfo;

export interface RouteMatch<R extends CompiledRoute = CompiledRoute> {
  route: R;
  /** The IRMatch that matched (URLRewrite's ReplacePrefixMatch needs its prefix). */
  match: IRMatch;
}

interface ValueCheck {
  name: string;
  exact: string | undefined;
  regex: LinearRegex | undefined;
}

interface Entry<R extends CompiledRoute> {
  result: RouteMatch<R>;
  method: string | undefined;
  headers: ValueCheck[];
  query: ValueCheck[];
  regex: LinearRegex | undefined;
}

class PathIndex<R extends CompiledRoute> {
  exact = new Map<string, Entry<R>[]>();
  regex: Entry<R>[] = [];
  /** Keyed by the prefix without its trailing slash ("" for "/"). */
  prefix = new Map<string, Entry<R>[]>();
  hasQuery = false;

  add(e: Entry<R>): void {
    const p = e.result.match.path;
    if (e.query.length > 0) this.hasQuery = true;
    if (p.type === 'Exact') push(this.exact, p.value, e);
    else if (p.type === 'RegularExpression') this.regex.push(e);
    else push(this.prefix, trimSlash(p.value), e);
  }

  finish(): void {
    for (const list of this.exact.values()) list.sort(compareEntries);
    for (const list of this.prefix.values()) list.sort(compareEntries);
    // Envoy Gateway orders regexes by length, longest first.
    this.regex.sort((a, b) => b.result.match.path.value.length - a.result.match.path.value.length || compareEntries(a, b));
  }

  lookup(path: string, method: string, headers: IncomingHttpHeaders, rawQuery: string): RouteMatch<R> | undefined {
    const q = this.hasQuery && rawQuery ? new URLSearchParams(rawQuery) : undefined;
    const exact = this.exact.get(path);
    if (exact) {
      const hit = firstMatch(exact, method, headers, q);
      if (hit) return hit;
    }
    for (const e of this.regex) {
      if (e.regex!.matches(path) && checks(e, method, headers, q)) return e.result;
    }
    if (this.prefix.size === 0) return undefined;
    // Try the path itself, then each shorter path-element boundary, down to "/".
    let end = path.length;
    if (end > 1 && path.charCodeAt(end - 1) === 47 /* / */) end--;
    for (;;) {
      const list = this.prefix.get(end === path.length ? path : path.slice(0, end));
      if (list) {
        const hit = firstMatch(list, method, headers, q);
        if (hit) return hit;
      }
      if (end <= 0) return undefined;
      end = path.lastIndexOf('/', end - 1);
      if (end < 0) return undefined;
    }
  }
}

function trimSlash(p: string): string {
  return p.endsWith('/') ? p.slice(0, -1) : p;
}

function push<K, V>(m: Map<K, V[]>, k: K, v: V): void {
  const list = m.get(k);
  if (list) list.push(v);
  else m.set(k, [v]);
}

function firstMatch<R extends CompiledRoute>(list: Entry<R>[], method: string, headers: IncomingHttpHeaders, q: URLSearchParams | undefined): RouteMatch<R> | undefined {
  for (let i = 0; i < list.length; i++) {
    const e = list[i];
    if (checks(e, method, headers, q)) return e.result;
  }
  return undefined;
}

function checks<R extends CompiledRoute>(e: Entry<R>, method: string, headers: IncomingHttpHeaders, q: URLSearchParams | undefined): boolean {
  if (e.method !== undefined && e.method !== method) return false;
  for (let i = 0; i < e.headers.length; i++) {
    const c = e.headers[i];
    const raw = headers[c.name];
    if (raw === undefined) return false;
    const v = typeof raw === 'string' ? raw : raw.join(',');
    if (c.exact !== undefined ? v !== c.exact : !c.regex!.matches(v)) return false;
  }
  if (e.query.length > 0) {
    if (!q) return false;
    for (let i = 0; i < e.query.length; i++) {
      const c = e.query[i];
      // Gateway API: with repeated parameters, the first one counts.
      const v = q.get(c.name);
      if (v === null) return false;
      if (c.exact !== undefined ? v !== c.exact : !c.regex!.matches(v)) return false;
    }
  }
  return true;
}

/** Gateway API precedence within one path bucket (path specificity is the bucket itself). */
function compareEntries<R extends CompiledRoute>(a: Entry<R>, b: Entry<R>): number {
  return (
    Number(b.method !== undefined) - Number(a.method !== undefined) ||
    b.headers.length - a.headers.length ||
    b.query.length - a.query.length ||
    compareStr(a.result.route.ir.order.created, b.result.route.ir.order.created) ||
    compareStr(a.result.route.ir.order.key, b.result.route.ir.order.key) ||
    a.result.route.ir.order.rule - b.result.route.ir.order.rule ||
    a.result.route.ir.matches.indexOf(a.result.match) - b.result.route.ir.matches.indexOf(b.result.match)
  );
}

function compareStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function valueCheck(m: IRValueMatch): ValueCheck {
  // Gateway API regexes match the whole value (RE2, linear time: see match/regex.ts).
  return m.type === 'Exact'
    ? { name: m.name, exact: m.value, regex: undefined }
    : { name: m.name, exact: undefined, regex: compileRegex(m.value) };
}

export class Router<R extends CompiledRoute = CompiledRoute> {
  private exactHosts = new Map<string, PathIndex<R>>();
  /** Keyed by ".example.com" for "*.example.com". */
  private wildcardHosts = new Map<string, PathIndex<R>>();
  private anyHost: PathIndex<R> | undefined;
  readonly size: number;

  constructor(routes: readonly R[]) {
    let n = 0;
    for (const route of routes) {
      const hosts = route.ir.hostnames.length > 0 ? route.ir.hostnames : [''];
      for (const match of route.ir.matches) {
        for (const host of hosts) {
          this.indexFor(host).add({
            result: { route, match },
            method: match.method,
            headers: match.headers.map(valueCheck),
            query: match.query.map(valueCheck),
            regex: match.path.type === 'RegularExpression' ? compileRegex(match.path.value) : undefined,
          });
          n++;
        }
      }
    }
    for (const idx of this.exactHosts.values()) idx.finish();
    for (const idx of this.wildcardHosts.values()) idx.finish();
    this.anyHost?.finish();
    this.size = n;
  }

  private indexFor(host: string): PathIndex<R> {
    if (host === '') return (this.anyHost ??= new PathIndex());
    const table = host.startsWith('*.') ? this.wildcardHosts : this.exactHosts;
    const key = host.startsWith('*.') ? host.slice(1) : host;
    let idx = table.get(key);
    if (!idx) table.set(key, (idx = new PathIndex()));
    return idx;
  }

  /** host: lowercase, no port. path: normalized, no query. */
  match(host: string, path: string, method: string, headers: IncomingHttpHeaders, rawQuery: string): RouteMatch<R> | undefined {
    return this.hostIndex(host)?.lookup(path, method, headers, rawQuery);
  }

  private hostIndex(host: string): PathIndex<R> | undefined {
    const exact = this.exactHosts.get(host);
    if (exact) return exact;
    if (this.wildcardHosts.size > 0) {
      // Longest wildcard suffix first: for a.b.example.com try .b.example.com, then .example.com, then .com.
      for (let i = host.indexOf('.'); i >= 0; i = host.indexOf('.', i + 1)) {
        const idx = this.wildcardHosts.get(host.slice(i));
        if (idx) return idx;
      }
    }
    return this.anyHost;
  }
}
