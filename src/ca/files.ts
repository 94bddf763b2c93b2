// The CA directory on disk, in Istio's file names (tools/certs): root-cert.pem and
// root-key.pem. Keys are written 0600, atomically (temp file + rename), so that a
// crash never leaves a half-written or briefly world-readable key behind.
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { CertAndKey } from './ca.ts';

export const ROOT_CERT_FILE = 'root-cert.pem';
export const ROOT_KEY_FILE = 'root-key.pem';
export const CACERTS_FILE = 'cacerts.yaml';
export const DEFAULT_CA_DIR = '.portcullis/ca';

/** Writes `data` to `path` with `mode`, replacing any existing file atomically. */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = join(dirname(path), `.${randomBytes(6).toString('hex')}.tmp`);
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode); // the umask may have narrowed or the platform ignored mode
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
}

export async function exists(path: string): Promise<boolean> {
  return stat(path).then(() => true, () => false);
}

export interface LoadedCaDir extends CertAndKey {
  /** Set when the key file is readable by group or others. */
  keyTooOpen: boolean;
}

/** The root CA of `dir`; a clear Error when the directory does not hold one. */
export async function loadCaDir(dir: string): Promise<LoadedCaDir> {
  const certPath = join(dir, ROOT_CERT_FILE);
  const keyPath = join(dir, ROOT_KEY_FILE);
  if (!(await exists(certPath)) || !(await exists(keyPath))) {
    throw new Error(`no CA in ${dir} (expected ${ROOT_CERT_FILE} and ${ROOT_KEY_FILE}); run \`portcullis ca init --dir ${dir}\` first`);
  }
  const [certPem, keyPem, st] = await Promise.all([readFile(certPath, 'utf8'), readFile(keyPath, 'utf8'), stat(keyPath)]);
  return { certPem, keyPem, keyTooOpen: process.platform !== 'win32' && (st.mode & 0o077) !== 0 };
}
