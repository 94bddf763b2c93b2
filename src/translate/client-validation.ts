// ClientTrafficPolicy tls.clientValidation → IRClientValidation: the CA
// bundle (caCertificateRefs, key `ca.crt`) and the revocation lists (crl.refs,
// key `ca.crl`), read from Secrets or ConfigMaps and checked here, so that a
// missing or malformed one makes the policy Invalid, never a listener that
// accepts every certificate.
import { X509Certificate } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import type { IRClientValidation, IRLeafCrl, IRSanMatchers, IRStringMatch } from '../ir/types.ts';
import { x509 } from '../ca/x509.ts';
import { regexError } from '../match/regex.ts';
import type { LoadedResource } from '../resources/types.ts';
import { namespaceOf } from '../resources/types.ts';
import type { ClientTrafficPolicySpec } from '../resources/kinds/envoygateway-clienttrafficpolicy.ts';
import { secretValue, type ResourceIndex } from './index-resources.ts';
import { referenceAllowed } from './reference-grant.ts';
import { Invalid } from './client-traffic-invalid.ts';
import { serialKey } from '../ca/serial.ts';

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

/** A CRL for the leaf-only check: the revoked serials and the validity, read once here. */
function leafCrl(pem: string, i: number): IRLeafCrl {
  let crl: x509.X509Crl;
  try {
    crl = new x509.X509Crl(pem);
  } catch (err) {
    throw new Invalid(`tls.clientValidation.crl: CRL ${i + 1} cannot be read for onlyVerifyLeafCertificate (${(err as Error).message})`);
  }
  return {
    pem,
    serials: crl.entries.map((e) => serialKey(e.serialNumber)),
    thisUpdateMs: crl.thisUpdate.getTime(),
    ...(crl.nextUpdate ? { nextUpdateMs: crl.nextUpdate.getTime() } : {}),
  };
}

/** spkiHashes: base64 of 32 bytes, kept in canonical base64. */
function spkiHashes(list: string[]): string[] {
  return list.map((h, i) => {
    const bytes = Buffer.from(h, 'base64');
    if (bytes.length !== 32 || bytes.toString('base64').replace(/=+$/, '') !== h.replace(/=+$/, '')) {
      throw new Invalid(`tls.clientValidation.spkiHashes[${i}]: "${h}" is not a base64-encoded SHA-256 (32 bytes)`);
    }
    return bytes.toString('base64');
  });
}

/** certificateHashes: hex, with or without ':' between bytes (Envoy takes both), as Node's fingerprint256 writes it. */
function certificateHashes(list: string[]): string[] {
  return list.map((h, i) => {
    const hex = h.replace(/:/g, '');
    if (!/^[0-9a-fA-F]{64}$/.test(hex)) throw new Invalid(`tls.clientValidation.certificateHashes[${i}]: "${h}" is not a hex-encoded SHA-256 (64 hex digits, ':' allowed between bytes)`);
    return hex.toUpperCase().match(/../g)!.join(':');
  });
}

type SanSpec = NonNullable<ClientValidationSpec['subjectAltNames']>;

function stringMatch(m: { type?: IRStringMatch['type']; value: string }, field: string): IRStringMatch {
  const type = m.type ?? 'Exact';
  if (type === 'RegularExpression') {
    const why = regexError(m.value);
    if (why) throw new Invalid(`${field}.value: "${m.value}" ${why}`);
  }
  return { type, value: m.value };
}

function sanMatchers(s: SanSpec): IRSanMatchers {
  const at = 'tls.clientValidation.subjectAltNames';
  const list = (field: 'dnsNames' | 'emailAddresses' | 'ipAddresses' | 'uris') => (s[field] ?? []).map((m, i) => stringMatch(m, `${at}.${field}[${i}]`));
  const otherNames = (s.otherNames ?? []).map((o, i) => {
    if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(o.oid)) throw new Invalid(`${at}.otherNames[${i}].oid: "${o.oid}" is not a dotted OID such as "1.3.6.1.4.1.311.20.2.3"`);
    return { ...stringMatch(o, `${at}.otherNames[${i}]`), oid: o.oid };
  });
  const out = { dnsNames: list('dnsNames'), emailAddresses: list('emailAddresses'), ipAddresses: list('ipAddresses'), uris: list('uris'), otherNames };
  if (Object.values(out).every((l) => l.length === 0)) throw new Invalid(`${at}: names no matcher (an empty list would refuse every certificate)`);
  return out;
}

export function clientValidationOf(idx: ResourceIndex, policy: LoadedResource, cv: ClientValidationSpec): IRClientValidation {
  const out: IRClientValidation = { caPem: caBundle(idx, policy, cv.caCertificateRefs), mode: cv.optional ? 'OPTIONAL' : 'REQUIRE' };
  // Envoy refuses a presented certificate that fails verification, optional or not.
  if (cv.optional) out.refuseUnverified = true;
  if (cv.crl) {
    const pems = crlPems(idx, policy, cv.crl.refs);
    if (cv.crl.onlyVerifyLeafCertificate) out.crlLeafOnly = pems.map((p, i) => leafCrl(p, i));
    else out.crlPems = pems;
  }
  if (cv.spkiHashes?.length) out.spkiHashes = spkiHashes(cv.spkiHashes);
  if (cv.certificateHashes?.length) out.certificateHashes = certificateHashes(cv.certificateHashes);
  if (cv.subjectAltNames) out.subjectAltNames = sanMatchers(cv.subjectAltNames);
  return out;
}
