// The trust bundle as a Kubernetes Secret in Istio's plug-in CA layout, for the
// gateway to load with `-f` (translate reads root-cert.pem of `cacerts` in the root
// namespace). Deliberately without any key: Istio's cacerts also carries
// ca-key.pem because istiod signs with it, but Portcullis only verifies, and Istio's
// own guidance is that the root key never enters the cluster. A file meant to be
// applied as configuration travels (git, admin API, etcd); a signing key must not.
import { stringify } from 'yaml';

export function renderCacertsSecret(rootCertPem: string, rootNamespace: string): string {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: 'cacerts', namespace: rootNamespace },
    type: 'Opaque',
    data: { 'root-cert.pem': Buffer.from(rootCertPem).toString('base64') },
  };
  return [
    '# Trust bundle for Portcullis (written by `portcullis ca init`): the root certificate only, no key.',
    '# Load it with `portcullis -f cacerts.yaml ...`. Applied to a real Istio cluster it does not make',
    '# istiod sign with this CA (istiod also needs ca-cert.pem and ca-key.pem).',
    stringify(secret, { lineWidth: 0 }),
  ].join('\n');
}

/** A kubernetes.io/tls Secret for a Gateway listener's certificateRefs (it holds the server key). */
export function renderTlsSecret(name: string, namespace: string, chainPem: string, keyPem: string): string {
  const secret = {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    type: 'kubernetes.io/tls',
    data: { 'tls.crt': Buffer.from(chainPem).toString('base64'), 'tls.key': Buffer.from(keyPem).toString('base64') },
  };
  return stringify(secret, { lineWidth: 0 });
}
