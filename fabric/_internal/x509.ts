/** @peculiar/x509 (with the shared Reflect shim loaded first) and Node's WebCrypto as provider. */
import { webcrypto } from 'node:crypto';
import * as x509 from '../../shared/x509.ts';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export * from '../../shared/x509.ts';
