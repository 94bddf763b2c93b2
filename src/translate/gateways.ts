// Gateways → listening sockets. Every Gateway listener on the same port
// shares one socket; hostnames (and SNI) tell them apart.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import type { IRCertificate, IRConnection, IRListener, NamespacedName, PathNormalization } from '../ir/types.ts';
import type { LoadedResource } from '../resources/types.ts';
import { namespaceOf } from '../resources/types.ts';
import type { GatewayListener, GatewaySpec } from '../resources/kinds/gatewayapi-gateway.ts';
import { secretValue, type ResourceIndex } from './index-resources.ts';
import { referenceAllowed } from './reference-grant.ts';
import type { StatusCollector } from './status.ts';
import { compareByAge } from './attachment/precedence.ts';

/** A Gateway listener as validated by src/resources (the schema's type). */
export type GatewayListenerSpec = GatewayListener;

export type { LabelSelector } from '../resources/kinds/common.ts';

/** A Gateway listener that was accepted, with what routes need to attach to it. */
export interface AttachableSection {
  gateway: LoadedResource;
  gatewayRef: NamespacedName;
  spec: GatewayListenerSpec;
  /** The socket it is served on. */
  listener: IRListener;
  attachedRoutes: number;
}

export interface GatewayTranslation {
  listeners: IRListener[];
  sections: AttachableSection[];
}

export function translateGateways(
  idx: ResourceIndex,
  status: StatusCollector,
  opts: { gatewayClass?: string; bindAddress: string; pathNormalization: PathNormalization; connection: IRConnection },
): GatewayTranslation {
  const byPort = new Map<number, IRListener>();
  const sections: AttachableSection[] = [];
  const gateways = idx.list('Gateway').sort(compareByAge);
  for (const gw of gateways) {
    const key = `Gateway/${namespaceOf(gw.resource)}/${gw.resource.metadata.name}`;
    const spec = (gw.resource.spec ?? {}) as GatewaySpec;
    if (opts.gatewayClass && spec.gatewayClassName !== opts.gatewayClass) {
      status.reject(key, 'NotReconciled', `gatewayClassName ${spec.gatewayClassName ?? '(none)'} is not served (--gateway-class ${opts.gatewayClass})`);
      continue;
    }
    const gatewayRef = { namespace: namespaceOf(gw.resource), name: gw.resource.metadata.name };
    let accepted = 0;
    for (const l of spec.listeners ?? []) {
      const where = `listener ${l.name}`;
      if (l.protocol !== 'HTTP' && l.protocol !== 'HTTPS') {
        status.condition(key, { type: 'ListenersNotValid', status: 'True', reason: 'UnsupportedProtocol', message: `${where}: protocol ${l.protocol} is not supported (HTTP, HTTPS)` });
        continue;
      }
      let socket = byPort.get(l.port);
      if (socket && socket.protocol !== l.protocol) {
        status.condition(key, { type: 'ListenersNotValid', status: 'True', reason: 'ProtocolConflict', message: `${where}: port ${l.port} is already served as ${socket.protocol}` });
        continue;
      }
      if (socket && socket.sections.some((s) => (s.hostname ?? '') === (l.hostname ?? ''))) {
        status.condition(key, { type: 'ListenersNotValid', status: 'True', reason: 'HostnameConflict', message: `${where}: another listener on port ${l.port} already serves hostname ${l.hostname ?? '(any)'}` });
        continue;
      }
      let certs: IRCertificate[] = [];
      if (l.protocol === 'HTTPS') {
        const tls = tlsCertificates(idx, gw, l);
        if ('error' in tls) {
          status.condition(key, { type: 'ListenersNotValid', status: 'True', reason: 'InvalidCertificateRef', message: `${where}: ${tls.error}` });
          continue;
        }
        certs = tls.certs;
      }
      if (!socket) {
        socket = {
          name: `${opts.bindAddress}:${l.port}`,
          port: l.port,
          protocol: l.protocol,
          pathNormalization: opts.pathNormalization,
          xffTrustedHops: 0,
          // A copy per listener: a ClientTrafficPolicy changes its own listener's.
          connection: { ...opts.connection, forwardClientCert: { ...opts.connection.forwardClientCert, details: [...opts.connection.forwardClientCert.details] } },
          sections: [],
          routes: [],
        };
        if (l.protocol === 'HTTPS') socket.tls = { certificates: [], alpn: ['h2', 'http/1.1'] };
        byPort.set(l.port, socket);
      }
      if (socket.tls) socket.tls.certificates.push(...certs);
      socket.sections.push({ gateway: gatewayRef, name: l.name, hostname: l.hostname, labels: gw.resource.metadata.labels ?? {} });
      sections.push({ gateway: gw, gatewayRef, spec: l, listener: socket, attachedRoutes: 0 });
      accepted++;
    }
    if (accepted === 0 && (spec.listeners ?? []).length > 0) status.reject(key, 'ListenersNotValid', 'no listener could be served');
    else status.accept(key, `${accepted} listener(s) served`);
  }
  // SNI picks the most specific hostname first; the default certificate stays first.
  for (const l of byPort.values()) {
    if (l.tls && l.tls.certificates.length > 1) {
      const [first, ...rest] = l.tls.certificates;
      rest.sort((a, b) => specificity(b.hostnames) - specificity(a.hostnames));
      l.tls.certificates = [first, ...rest];
    }
  }
  return { listeners: [...byPort.values()].sort((a, b) => a.port - b.port), sections };
}

function specificity(hostnames: string[]): number {
  if (hostnames.length === 0) return 0;
  return Math.max(...hostnames.map((h) => (h.startsWith('*.') ? h.length : h.length + 1000)));
}

function tlsCertificates(idx: ResourceIndex, gw: LoadedResource, l: GatewayListenerSpec): { certs: IRCertificate[] } | { error: string } {
  if ((l.tls?.mode ?? 'Terminate') !== 'Terminate') return { error: `tls.mode ${l.tls?.mode} is not supported (Terminate)` };
  const refs = l.tls?.certificateRefs ?? [];
  if (refs.length === 0) return { error: 'HTTPS needs tls.certificateRefs' };
  const certs: IRCertificate[] = [];
  const gwNs = namespaceOf(gw.resource);
  for (const ref of refs) {
    const kind = ref.kind ?? 'Secret';
    if ((ref.group ?? '') !== '' || kind !== 'Secret') return { error: `certificateRef kind ${kind} is not supported (Secret)` };
    const ns = ref.namespace ?? gwNs;
    if (ns !== gwNs && !referenceAllowed(idx, { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: gwNs }, { group: '', kind: 'Secret', namespace: ns, name: ref.name })) {
      return { error: `Secret ${ns}/${ref.name} is in another namespace and no ReferenceGrant allows it` };
    }
    const secret = idx.get('Secret', ns, ref.name);
    if (!secret) return { error: `Secret ${ns}/${ref.name} not found` };
    const certPem = secretValue(secret.resource, 'tls.crt');
    const keyPem = secretValue(secret.resource, 'tls.key');
    if (!certPem || !keyPem) return { error: `Secret ${ns}/${ref.name} must have tls.crt and tls.key` };
    let names: string[];
    try {
      names = certificateHostnames(certPem);
      createPrivateKey(keyPem);
    } catch (err) {
      return { error: `Secret ${ns}/${ref.name}: invalid certificate or key (${(err as Error).message.split('\n')[0]})` };
    }
    // A listener hostname narrows what this certificate is used for.
    const hostnames = l.hostname ? [l.hostname.toLowerCase()] : names;
    certs.push({ hostnames, certPem, keyPem, source: `Secret/${ns}/${ref.name}` });
  }
  return { certs };
}

function certificateHostnames(certPem: string): string[] {
  const cert = new X509Certificate(certPem);
  const out: string[] = [];
  for (const part of (cert.subjectAltName ?? '').split(/,\s*/)) {
    if (part.startsWith('DNS:')) out.push(part.slice(4).toLowerCase());
  }
  return out;
}
