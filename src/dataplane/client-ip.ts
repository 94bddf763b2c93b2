// The client address as a ClientTrafficPolicy's clientIPDetection defines it,
// compiled once per listener. The single source of the client IP for every
// IP rule (SecurityPolicy clientCIDRs, Istio remoteIpBlocks, rate limits): a
// client that is not behind a trusted proxy cannot change it.
import { isIP } from 'node:net';
import type { IncomingHttpHeaders } from 'node:http';
import type { IRClientIpDetection } from '../ir/types.ts';
import { compileIpMatcher } from '../authz/ip-match.ts';

/** The client address, or undefined when the request must be refused (customHeader failClosed). */
export type ClientIpResolver = (headers: IncomingHttpHeaders, peer: string) => string | undefined;

function plain(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}

export function compileClientIp(d: IRClientIpDetection): ClientIpResolver {
  if (d.type === 'customHeader') {
    const name = d.name.toLowerCase();
    return (headers, peer) => {
      const v = headers[name];
      const first = (Array.isArray(v) ? v[0] : v)?.split(',')[0].trim();
      if (first !== undefined && isIP(first)) return plain(first);
      return d.failClosed ? undefined : peer;
    };
  }
  const trusted = compileIpMatcher(d.cidrs).matcher;
  // Envoy's xff trusted_cidrs: only a trusted peer's X-Forwarded-For counts; read right
  // to left, the first address outside the trusted ranges is the client.
  return (headers, peer) => {
    if (!trusted.has(peer)) return peer;
    const xff = headers['x-forwarded-for'];
    if (xff === undefined) return peer;
    const list = (Array.isArray(xff) ? xff.join(',') : xff).split(',');
    let client = peer;
    for (let i = list.length - 1; i >= 0; i--) {
      const ip = list[i].trim();
      if (!isIP(ip)) return client;
      client = plain(ip);
      if (!trusted.has(client)) return client;
    }
    return client;
  };
}
