/**
 * (EC)DHE key shares for x25519 and secp256r1 on WebCrypto (native code in Chromium, Firefox, Safari
 * and Node). An engine whose WebCrypto lacks X25519 (browsers older than 2025) is offered P-256 alone,
 * which every TLS 1.3 server supports: a JavaScript X25519 would cost every start of the service
 * worker its module load for the sake of those few.
 */
import { AlertDescription, NamedGroup, type NamedGroupName } from './constants.ts';
import { illegalParameter, TlsProtocolError } from './errors.ts';

export interface KeyShare {
  readonly group: NamedGroupName;
  readonly id: number;
  readonly publicKey: Uint8Array;
  /** The (EC)DH shared secret with the server's key_exchange bytes. */
  sharedSecret(peer: Uint8Array): Promise<Uint8Array>;
}

const badShare = (cause?: unknown) =>
  new TlsProtocolError('ERR_TLS_ILLEGAL_PARAMETER', 'invalid server key share', {
    alert: AlertDescription.illegalParameter,
    cause,
  });

let webCryptoX25519: boolean | undefined;

/** Whether x25519 may be offered: false once WebCrypto refused to make an X25519 key. */
export const x25519Available = () => webCryptoX25519 !== false;

/** An x25519 share, or undefined where WebCrypto has no X25519. */
const x25519Share = async (): Promise<KeyShare | undefined> => {
  if (webCryptoX25519 === false) return undefined;
  let pair: CryptoKeyPair;
  try {
    pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, [
      'deriveBits',
    ])) as CryptoKeyPair;
  } catch (err) {
    if (webCryptoX25519) throw err;
    webCryptoX25519 = false;
    return undefined;
  }
  webCryptoX25519 = true;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    group: 'x25519',
    id: NamedGroup.x25519,
    publicKey,
    async sharedSecret(peer) {
      if (peer.length !== 32) throw badShare();
      let secret: Uint8Array;
      try {
        const pub = await crypto.subtle.importKey(
          'raw',
          new Uint8Array(peer),
          { name: 'X25519' },
          true,
          [],
        );
        secret = new Uint8Array(
          await crypto.subtle.deriveBits({ name: 'X25519', public: pub }, pair.privateKey, 256),
        );
      } catch (err) {
        throw badShare(err); // some engines reject a low-order point themselves
      }
      if (secret.every((b) => b === 0)) throw badShare(); // RFC 8446 §7.4.2
      return secret;
    },
  };
};

const p256Share = async (): Promise<KeyShare> => {
  const pair = (await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, [
    'deriveBits',
  ])) as CryptoKeyPair;
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey));
  return {
    group: 'secp256r1',
    id: NamedGroup.secp256r1,
    publicKey,
    async sharedSecret(peer) {
      // RFC 8446 §4.2.8.2: uncompressed point only; importKey checks it is on the curve.
      if (peer.length !== 65 || peer[0] !== 4) throw badShare();
      try {
        const pub = await crypto.subtle.importKey(
          'raw',
          new Uint8Array(peer),
          { name: 'ECDH', namedCurve: 'P-256' },
          true,
          [],
        );
        return new Uint8Array(
          await crypto.subtle.deriveBits({ name: 'ECDH', public: pub }, pair.privateKey, 256),
        );
      } catch (err) {
        throw badShare(err);
      }
    },
  };
};

/** A share for `group`, or undefined where this engine cannot make one (x25519 without WebCrypto's). */
export const generateKeyShare = (group: NamedGroupName): Promise<KeyShare | undefined> =>
  group === 'x25519' ? x25519Share() : p256Share();

export const groupName = (id: number): NamedGroupName => {
  for (const [name, v] of Object.entries(NamedGroup)) if (v === id) return name as NamedGroupName;
  throw illegalParameter(`unsupported group ${id}`);
};
