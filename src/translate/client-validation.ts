// ClientTrafficPolicy tls.clientValidation → IRClientValidation: the CA
// bundle (caCertificateRefs, key `ca.crt`) and the revocation lists (crl.refs,
// key `ca.crl`), read from Secrets or ConfigMaps and checked here, so that a
// missing or malformed one makes the policy Invalid, never a listener that
// accepts every certificate.
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { IRClientValidation } from '../ir/types.ts';
import type { LoadedResource } from '../resources/types.ts';
import { namespaceOf } from '../resources/types.ts';
import type { ClientTrafficPolicySpec } from '../resources/kinds/envoygateway-clienttrafficpolicy.ts';
import { secretValue, type ResourceIndex } from './index-resources.ts';
import { referenceAllowed } from './reference-grant.ts';
import { Invalid } from './client-traffic-invalid.ts';

type ClientValidationSpec = NonNullable<NonNullable<ClientTrafficPolicySpec['tls']>['clientValidation']>;
type ObjectRef = NonNullable<ClientValidationSpec['caCertificateRefs']>[number];

/** The value under `key` of the Secret or ConfigMap `ref` names (ReferenceGrant checked); `where` names the field in errors. */
function refValue(idx: ResourceIndex, policy: LoadedResource, ref: ObjectRef, key: string, where: string): { text: string; name: string } {
  const ns = namespaceOf(policy.resource);
  const kind = ref.kind ?? 'Secret';
  const target = ref.namespace ?? ns;
  const name = `${kind} ${target}/${ref.name}`;
  if (target !== ns && !referenceAllowed(idx, { group: 'gateway.envoyproxy.io', kind: 'ClientTrafficPolicy', namespace: ns }, { group: '', kind, namespace: target, name: ref.name })) {
    throw new Invalid(`${where}: ${name} is in another namespace and no ReferenceGrant allows it`);
  }
  const obj = idx.get(kind, target, ref.name);
  if (!obj) throw new Invalid(`${where}: ${name} not found`);
  const text = kind === 'Secret' ? secretValue(obj.resource, key) : (obj.resource.data as Record<string, string> | undefined)?.[key];
  if (text === undefined) throw new Invalid(`${where}: ${name} has no "${key}" key`);
  return { text, name };
}

function caBundle(idx: ResourceIndex, policy: LoadedResource, refs: ObjectRef[] | undefined): string {
  const pems = (refs ?? []).map((ref, i) => {
    const where = `tls.clientValidation.caCertificateRefs[${i}]`;
    const { text, name } = refValue(idx, policy, ref, 'ca.crt', where);
    try {
      new X509Certificate(text);
    } catch {
      throw new Invalid(`${where}: ${name} "ca.crt" is not a PEM certificate`);
    }
    return text.trim();
  });
  if (pems.length === 0) throw new Invalid('tls.clientValidation: caCertificateRefs must name at least one CA certificate');
  return `${pems.join('\n')}\n`;
}

const CRL_BLOCK = /-----BEGIN (?:X509 )?CRL-----[\s\S]*?-----END (?:X509 )?CRL-----/g;

/**
 * Every CRL of every ref, one PEM per entry labelled "X509 CRL": OpenSSL (the
 * `crl` option of createSecureContext) reads only that label, and only the
 * first CRL of a string; openssl and @peculiar/x509 write "CRL".
 */
function crlPems(idx: ResourceIndex, policy: LoadedResource, refs: ObjectRef[]): string[] {
  const out: string[] = [];
  refs.forEach((ref, i) => {
    const where = `tls.clientValidation.crl.refs[${i}]`;
    const { text, name } = refValue(idx, policy, ref, 'ca.crl', where);
    const blocks = text.match(CRL_BLOCK) ?? [];
    if (blocks.length === 0) throw new Invalid(`${where}: ${name} "ca.crl" holds no PEM CRL`);
    for (const [j, block] of blocks.entries()) {
      const pem = `${block.replace(/-----(BEGIN|END) (?:X509 )?CRL-----/g, '-----$1 X509 CRL-----')}\n`;
      try {
        createSecureContext({ crl: pem });
      } catch (err) {
        throw new Invalid(`${where}: ${name} "ca.crl" CRL ${j + 1} does not load (${(err as Error).message.split('\n')[0]})`);
      }
      out.push(pem);
    }
  });
  return out;
}

export function clientValidationOf(idx: ResourceIndex, policy: LoadedResource, cv: ClientValidationSpec): IRClientValidation {
  const out: IRClientValidation = { caPem: caBundle(idx, policy, cv.caCertificateRefs), mode: cv.optional ? 'OPTIONAL' : 'REQUIRE' };
  if (cv.crl) out.crlPems = crlPems(idx, policy, cv.crl.refs);
  return out;
}
