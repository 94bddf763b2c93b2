// Gateway API hostname rules: a wildcard "*.example.com" matches any number
// of labels before ".example.com", never "example.com" itself.

export function hostnameMatches(pattern: string, host: string): boolean {
  if (pattern.startsWith('*.')) return host.length > pattern.length - 1 && host.endsWith(pattern.slice(1));
  return pattern === host;
}

/**
 * Effective hostnames of a route on a listener (route ∩ listener).
 * [] means "any host"; null means they do not intersect (the route does not attach).
 */
export function intersectHostnames(listener: string | undefined, route: readonly string[]): string[] | null {
  const routeHosts = route.map((h) => h.toLowerCase());
  if (!listener) return routeHosts;
  const l = listener.toLowerCase();
  if (routeHosts.length === 0) return [l];
  const out: string[] = [];
  for (const r of routeHosts) {
    if (r === l) out.push(r);
    else if (hostnameMatches(l, r)) out.push(r); // listener wildcard covers the route host
    else if (hostnameMatches(r, l)) out.push(l); // route wildcard covers the listener host
  }
  return out.length > 0 ? [...new Set(out)] : null;
}
