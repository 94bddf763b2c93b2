// The admin listener's TLS: the files given with --admin-tls-cert/-key
// (and --admin-client-ca), or, by default, a CA and server certificate made
// once under the data directory, so that kubectl (which sends a token only
// over TLS) works out of the box: `--certificate-authority <data-dir>/admin-tls/ca.crt`,
// or the kubeconfig written next to it.
import { readFileSync, writeFileSync, existsSync, mkdirSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { ManagementOptions } from './options.ts';
import { StartupError } from './single.ts';

export interface AdminTls {
  cert: string;
  key: string;
  ca?: string;
  /** The CA file a client verifies the admin listener with, when generated here. */
  caFile?: string;
}

function read(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new StartupError(`cannot read ${flag} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, []);
  }
}

export async function adminTls(m: ManagementOptions): Promise<AdminTls> {
  if (m.tls) {
    return { cert: read(m.tls.cert, '--admin-tls-cert'), key: read(m.tls.key, '--admin-tls-key'), ca: m.tls.clientCa ? read(m.tls.clientCa, '--admin-client-ca') : undefined };
  }
  mkdirSync(m.dataDir, { recursive: true, mode: 0o700 });
  const dir = join(m.dataDir, 'admin-tls');
  const caFile = join(dir, 'ca.crt');
  const certFile = join(dir, 'server.crt');
  const keyFile = join(dir, 'server.key');
  if (!existsSync(dir)) {
    // Loaded only here: the certificate library stays out of starts that already have their files.
    const { createRootCa, issueServerCert } = await import('../ca/ca.ts');
    const ca = await createRootCa({ commonName: 'Portcullis admin CA' });
    const server = await issueServerCert(ca, { hostnames: ['localhost'], ips: ['127.0.0.1', '::1'], ttlMs: 3600 * 86_400_000 });
    // Written into a fresh directory renamed into place: instances starting together on one data
    // directory never mix one's key with another's certificate (the loser of the rename uses the winner's).
    const tmp = mkdtempSync(join(m.dataDir, '.admin-tls-'));
    writeFileSync(join(tmp, 'ca.crt'), ca.certPem, { mode: 0o644 });
    writeFileSync(join(tmp, 'server.key'), server.keyPem, { mode: 0o600 });
    writeFileSync(join(tmp, 'server.crt'), server.chainPem, { mode: 0o644 });
    try {
      renameSync(tmp, dir);
    } catch {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  return { cert: read(certFile, 'the admin certificate'), key: read(keyFile, 'the admin key'), caFile: resolve(caFile) };
}

/** <data-dir>/kubeconfig: kubectl --kubeconfig FILE reaches this instance with the admin token. */
export function writeKubeconfig(dataDir: string, server: string, caFile: string, token: string): string {
  const file = join(dataDir, 'kubeconfig');
  const text = `apiVersion: v1
kind: Config
clusters:
- name: portcullis
  cluster:
    server: ${server}
    certificate-authority: ${caFile}
users:
- name: admin
  user:
    token: ${token}
contexts:
- name: portcullis
  context:
    cluster: portcullis
    user: admin
current-context: portcullis
`;
  writeFileSync(file, text, { mode: 0o600 });
  return file;
}
