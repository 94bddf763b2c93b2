// PEM certificate bundles: split, and check that every block is a certificate
// that parses. Uses node:crypto only, so translate can use it without the CA library.
import { X509Certificate } from 'node:crypto';

const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----\r?\n([A-Za-z0-9+/=\r\n]*?)-----END \1-----/g;
const MARKER = /-----(BEGIN|END) /g;

export interface ParsedBundle {
  /** Each certificate as a normalized PEM block ending in "\n". */
  certificates: string[];
  parsed: X509Certificate[];
}

/**
 * Certificates of a PEM bundle. Throws an Error (message safe to show: no key
 * material) when there is no certificate, a block is not a certificate, a
 * block does not parse, or there are stray/unbalanced markers.
 */
export function parseCertificateBundle(pem: string): ParsedBundle {
  if (typeof pem !== 'string') throw new Error('not a string');
  const certificates: string[] = [];
  const parsed: X509Certificate[] = [];
  let blocks = 0;
  for (const m of pem.matchAll(BLOCK)) {
    blocks++;
    if (m[1] !== 'CERTIFICATE') throw new Error(`block ${blocks} is a ${m[1]}, expected CERTIFICATE`);
    const block = `-----BEGIN CERTIFICATE-----\n${m[2].replace(/\r/g, '')}-----END CERTIFICATE-----\n`;
    try {
      parsed.push(new X509Certificate(block));
    } catch {
      throw new Error(`certificate ${blocks} does not parse`);
    }
    certificates.push(block);
  }
  const markers = pem.match(MARKER)?.length ?? 0;
  if (markers !== blocks * 2) throw new Error('malformed PEM (unbalanced or damaged header/footer lines)');
  if (blocks === 0) throw new Error('no PEM certificate found');
  return { certificates, parsed };
}
