// The one place that loads @peculiar/x509: the Reflect shim must be evaluated first
// (ES modules evaluate their imports in order), so everything else imports from here.
import './reflect-shim.ts';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

export { x509 };

/** Node's WebCrypto, passed explicitly so that no global provider state matters. */
export const subtle = webcrypto.subtle;
export const wcrypto = webcrypto as unknown as Crypto;
