// Key pairs for the CA and the certificates it issues, in WebCrypto form (what
// @peculiar/x509 signs with) and PKCS#8 PEM form (what files and node:tls use).
import { createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { subtle } from './x509.ts';

export type KeyAlgorithm = 'ec-p256' | 'ec-p384' | 'rsa-2048' | 'rsa-3072';

/** WebCrypto parameters for generating/importing a key and signing with it. */
export interface SigningParams {
  key: webcrypto.EcKeyImportParams | webcrypto.RsaHashedImportParams;
  sign: webcrypto.EcdsaParams | webcrypto.Algorithm;
}

const PARAMS: Record<KeyAlgorithm, SigningParams> = {
  'ec-p256': { key: { name: 'ECDSA', namedCurve: 'P-256' }, sign: { name: 'ECDSA', hash: 'SHA-256' } as webcrypto.EcdsaParams },
  'ec-p384': { key: { name: 'ECDSA', namedCurve: 'P-384' }, sign: { name: 'ECDSA', hash: 'SHA-384' } as webcrypto.EcdsaParams },
  'rsa-2048': { key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
  'rsa-3072': { key: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, sign: { name: 'RSASSA-PKCS1-v1_5' } },
};

export interface GeneratedKey {
  algorithm: KeyAlgorithm;
  keys: webcrypto.CryptoKeyPair;
  params: SigningParams;
}

export async function generateKey(algorithm: KeyAlgorithm = 'ec-p256'): Promise<GeneratedKey> {
  const params = PARAMS[algorithm];
  if (!params) throw new Error(`unsupported key algorithm ${JSON.stringify(algorithm)}`);
  const gen = algorithm.startsWith('rsa')
    ? { ...params.key, modulusLength: algorithm === 'rsa-2048' ? 2048 : 3072, publicExponent: new Uint8Array([1, 0, 1]) }
    : params.key;
  const keys = (await subtle.generateKey(gen, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return { algorithm, keys, params };
}

export async function privateKeyToPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await subtle.exportKey('pkcs8', key));
  return toPem('PRIVATE KEY', der);
}

export function toPem(label: string, der: Buffer): string {
  const b64 = der.toString('base64').replace(/(.{64})/g, '$1\n').replace(/\n$/, '');
  return `-----BEGIN ${label}-----\n${b64}\n-----END ${label}-----\n`;
}

export interface ImportedKey {
  privateKey: CryptoKey;
  publicKey: CryptoKey;
  params: SigningParams;
}

/**
 * A signing key from PEM (PKCS#8, SEC1 "EC PRIVATE KEY" or PKCS#1 "RSA PRIVATE KEY").
 * Errors never quote the key.
 */
export async function importPrivateKeyPem(pem: string): Promise<ImportedKey> {
  let ko: KeyObject;
  try {
    ko = createPrivateKey(pem);
  } catch {
    throw new Error('the CA key is not a readable PEM private key');
  }
  const params = paramsFor(ko);
  const pkcs8 = ko.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(ko).export({ type: 'spki', format: 'der' });
  const privateKey = await subtle.importKey('pkcs8', pkcs8, params.key, false, ['sign']);
  const publicKey = await subtle.importKey('spki', spki, params.key, true, ['verify']);
  return { privateKey, publicKey, params };
}

function paramsFor(ko: KeyObject): SigningParams {
  if (ko.asymmetricKeyType === 'ec') {
    const curve = ko.asymmetricKeyDetails?.namedCurve;
    if (curve === 'prime256v1') return PARAMS['ec-p256'];
    if (curve === 'secp384r1') return PARAMS['ec-p384'];
    throw new Error(`unsupported CA key curve ${curve ?? 'unknown'} (use P-256 or P-384)`);
  }
  if (ko.asymmetricKeyType === 'rsa') {
    if ((ko.asymmetricKeyDetails?.modulusLength ?? 0) < 2048) throw new Error('the CA RSA key is shorter than 2048 bits');
    return PARAMS['rsa-2048'];
  }
  throw new Error(`unsupported CA key type ${ko.asymmetricKeyType ?? 'unknown'} (use EC or RSA)`);
}
