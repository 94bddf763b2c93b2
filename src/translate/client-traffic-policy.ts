// ClientTrafficPolicy → listener settings, on the attachment phase: the
// winning policy per Gateway listener (listener > gateway, then oldest, then
// namespace/name). Served: clientIPDetection (X-Forwarded-For hop count or
// trusted CIDRs, or a custom header) as the one source of the client address,
// and tls.clientValidation (client certificates checked against CA
// certificates from Secrets/ConfigMaps, `optional` allowed). The other fields
// are validated and said in the status as not served, never ignored silently.
import { X509Certificate } from 'node:crypto';
import type { IRClientIpDetection, IRListener } from '../ir/types.ts';
import type { LoadedResource } from '../resources/types.ts';
import { namespaceOf, resourceKey } from '../resources/types.ts';
import { secretValue, type ResourceIndex } from './index-resources.ts';
import { referenceAllowed } from './reference-grant.ts';
import { attachingPolicy, attachWinners, type AttachContext, type PolicyTargeting } from './attachment/index.ts';

interface ClientTrafficPolicySpec extends PolicyTargeting {
  clientIPDetection?: {
    xForwardedFor?: { numTrustedHops?: number; trustedCIDRs?: string[] };
    customHeader?: { name: string; failClosed?: boolean };
  };
  tls?: { clientValidation?: { optional?: boolean; caCertificateRefs?: { group?: string; kind?: string; name: string; namespace?: string }[] } } & Record<string, unknown>;
  [field: string]: unknown;
}

const SERVED = new Set(['targetRef', 'targetRefs', 'targetSelectors', 'clientIPDetection', 'tls']);
const SERVED_TLS = new Set(['clientValidation']);

interface Settings {
  clientIp?: { hops: number } | { detection: IRClientIpDetection };
  clientValidation?: { caPem: string; mode: 'REQUIRE' | 'OPTIONAL' };
}

class Invalid extends Error {}

function caBundle(idx: ResourceIndex, policy: LoadedResource, refs: NonNullable<NonNullable<ClientTrafficPolicySpec['tls']>['clientValidation']>['caCertificateRefs']): string {
  const ns = namespaceOf(policy.resource);
  const pems: string[] = [];
  (refs ?? []).forEach((ref, i) => {
    const kind = ref.kind ?? 'Secret';
    const target = ref.namespace ?? ns;
    const where = `tls.clientValidation.caCertificateRefs[${i}]`;
    if (target !== ns && !referenceAllowed(idx, { group: 'gateway.envoyproxy.io', kind: 'ClientTrafficPolicy', namespace: ns }, { group: '', kind, namespace: target, name: ref.name })) {
      throw new Invalid(`${where}: ${kind} ${target}/${ref.name} is in another namespace and no ReferenceGrant allows it`);
    }
    const obj = idx.get(kind, target, ref.name);
    if (!obj) throw new Invalid(`${where}: ${kind} ${target}/${ref.name} not found`);
    const pem = kind === 'Secret' ? secretValue(obj.resource, 'ca.crt') : (obj.resource.data as Record<string, string> | undefined)?.['ca.crt'];
    if (pem === undefined) throw new Invalid(`${where}: ${kind} ${target}/${ref.name} has no "ca.crt" key`);
    try {
      new X509Certificate(pem);
    } catch {
      throw new Invalid(`${where}: ${kind} ${target}/${ref.name} "ca.crt" is not a PEM certificate`);
    }
    pems.push(pem.trim());
  });
  if (pems.length === 0) throw new Invalid('tls.clientValidation: caCertificateRefs must name at least one CA certificate');
  return `${pems.join('\n')}\n`;
}

function settingsOf(idx: ResourceIndex, policy: LoadedResource, spec: ClientTrafficPolicySpec): Settings {
  const out: Settings = {};
  const d = spec.clientIPDetection;
  if (d?.customHeader) out.clientIp = { detection: { type: 'customHeader', name: d.customHeader.name.toLowerCase(), failClosed: d.customHeader.failClosed ?? false } };
  else if (d?.xForwardedFor?.trustedCIDRs) out.clientIp = { detection: { type: 'xffTrustedCidrs', cidrs: d.xForwardedFor.trustedCIDRs } };
  else if (d?.xForwardedFor) out.clientIp = { hops: d.xForwardedFor.numTrustedHops ?? 0 };
  const cv = spec.tls?.clientValidation;
  if (cv) out.clientValidation = { caPem: caBundle(idx, policy, cv.caCertificateRefs), mode: cv.optional ? 'OPTIONAL' : 'REQUIRE' };
  return out;
}

export function attachClientTrafficPolicies({ idx, targets: inv, status, policyErrors, errors }: AttachContext): void {
  const all = idx.list('ClientTrafficPolicy');
  if (all.length === 0) return;
  const settings = new Map<string, Settings>();
  const policies = all.map((r) => {
    const spec = (r.resource.spec ?? {}) as ClientTrafficPolicySpec;
    const key = resourceKey(r.resource);
    const p = attachingPolicy(r, spec, inv);
    const unserved = [
      ...Object.keys(spec).filter((k) => !SERVED.has(k)),
      ...Object.keys(spec.tls ?? {}).filter((k) => !SERVED_TLS.has(k)).map((k) => `tls.${k}`),
    ];
    if (unserved.length > 0) {
      status.condition(key, { type: 'UnsupportedFields', status: 'True', reason: 'UnsupportedValue', message: `accepted but not served by this version: ${unserved.join(', ')}` });
    }
    try {
      settings.set(key, settingsOf(idx, r, spec));
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      p.invalid = err.message;
      // Serving without the client validation it asks for would be failing open: the
      // configuration is refused (the last good one keeps serving) instead.
      if (spec.tls?.clientValidation) errors.push({ object: key, message: err.message, source: r.source });
      else policyErrors.push({ object: key, message: err.message, source: r.source });
    }
    return p;
  });
  const winners = attachWinners(policies, inv.listenerPoints, { kind: 'ClientTrafficPolicy', status, inventory: inv });
  // Several Gateway listeners may share one socket: settings are per socket.
  const perSocket = new Map<IRListener, { key: string; s: Settings | undefined }[]>();
  for (const lp of inv.listenerPoints) {
    const w = winners.get(lp);
    const key = w ? resourceKey(w.policy.resource.resource) : '';
    let list = perSocket.get(lp.ir);
    if (!list) perSocket.set(lp.ir, (list = []));
    list.push({ key, s: w ? settings.get(key) : undefined });
  }
  for (const [l, list] of perSocket) {
    const keys = [...new Set(list.map((x) => x.key))];
    const first = list[0];
    if (keys.length > 1) {
      // Disagreeing policies on one socket: trust no proxy rather than the wrong one, validate nothing extra.
      for (const k of keys.filter((x) => x !== '')) {
        status.condition(k, { type: 'Warning', status: 'True', reason: 'Conflicted', message: `listeners on port ${l.port} have different ClientTrafficPolicies (${keys.map((x) => x || 'none').join(', ')}); client IP detection and client validation are not applied there` });
      }
      continue;
    }
    const s = first.s;
    // No policy, or an invalid one (whose client validation, if any, refused the whole configuration).
    if (!s) continue;
    if (s.clientIp && 'hops' in s.clientIp) l.xffTrustedHops = s.clientIp.hops;
    else if (s.clientIp) l.clientIpDetection = s.clientIp.detection;
    if (s.clientValidation) {
      if (l.tls) l.tls.clientValidation = s.clientValidation;
      else status.condition(first.key, { type: 'Warning', status: 'True', reason: 'UnsupportedValue', message: `tls.clientValidation on the plaintext listener port ${l.port} has no effect` });
    }
  }
}
