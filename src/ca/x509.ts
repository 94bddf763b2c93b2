// The one place that loads @peculiar/x509. Its dependency injection (tsyringe)
// needs the Reflect metadata API, so the polyfill is evaluated first (ES modules
// evaluate their imports in order); everything else imports x509 from here.
import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
import { webcrypto } from 'node:crypto';

export { x509 };

/** Node's WebCrypto, passed explicitly so that no global provider state matters. */
export const subtle = webcrypto.subtle;
export const wcrypto = webcrypto as unknown as Crypto;
