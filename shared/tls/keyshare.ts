/**
 * (EC)DHE key shares for x25519 and secp256r1 on WebCrypto (fast native code in Chromium, Firefox
 * and Node), falling back to @noble/curves for x25519 where WebCrypto lacks it.
 */
import { x25519 } from '@noble/curves/ed25519.js';
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

const x25519Share = async (): Promise<KeyShare> => {
  if (webCryptoX25519 !== false) {
    try {
      const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, [
        'deriveBits',
      ])) as CryptoKeyPair;
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
    } catch (err) {
      if (webCryptoX25519) throw err;
      webCryptoX25519 = false;
    }
  }
  const priv = x25519.utils.randomSecretKey();
  return {
    group: 'x25519',
    id: NamedGroup.x25519,
    publicKey: x25519.getPublicKey(priv),
    async sharedSecret(peer) {
      if (peer.length !== 32) throw badShare();
      let secret: Uint8Array;
      try {
        secret = x25519.getSharedSecret(priv, peer);
      } catch (err) {
        throw badShare(err);
      }
      if (secret.every((b) => b === 0)) throw badShare();
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

export const generateKeyShare = (group: NamedGroupName): Promise<KeyShare> =>
  group === 'x25519' ? x25519Share() : p256Share();

export const groupName = (id: number): NamedGroupName => {
  for (const [name, v] of Object.entries(NamedGroup)) if (v === id) return name as NamedGroupName;
  throw illegalParameter(`unsupported group ${id}`);
};
