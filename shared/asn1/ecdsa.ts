/**
 * ECDSA signatures: WebCrypto signs as the raw concatenation r ‖ s (each the curve's size), X.509
 * and PKCS#10 carry Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3).
 */
import { checkInteger, DerError, DerReader, encode, readOne, Tag } from './der.ts';

/** A non-negative INTEGER element from big-endian bytes: leading zeros dropped, one added if the top bit is set. */
function unsignedInteger(bytes: Uint8Array): Uint8Array {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  const trimmed = bytes.subarray(i);
  return trimmed[0]! & 0x80
    ? encode(Tag.integer, new Uint8Array([0]), trimmed)
    : encode(Tag.integer, trimmed);
}

/** WebCrypto's r ‖ s → the DER Ecdsa-Sig-Value. */
export function ecdsaSignatureToDer(raw: Uint8Array): Uint8Array {
  if (raw.length === 0 || raw.length % 2 !== 0)
    throw new DerError(`ECDSA signature of ${raw.length} bytes is not r ‖ s`);
  const half = raw.length / 2;
  return encode(
    Tag.sequence,
    unsignedInteger(raw.subarray(0, half)),
    unsignedInteger(raw.subarray(half)),
  );
}

/**
 * Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 3279 §2.2.3), strict DER, to the r ‖ s
 * WebCrypto verifies, each `size` bytes.
 */
export function ecdsaSignatureToRaw(der: Uint8Array, size: number): Uint8Array {
  const r = new DerReader(readOne(der, 'ECDSA signature', Tag.sequence).value, 'ECDSA signature');
  const out = new Uint8Array(size * 2);
  for (let k = 0; k < 2; k++) {
    const value = r.read(Tag.integer).value;
    checkInteger(value, 'ECDSA signature', true);
    const int = value[0] === 0 ? value.subarray(1) : value;
    if (int.length > size) throw new DerError('ECDSA signature: integer larger than the curve');
    out.set(int, size * (k + 1) - int.length);
  }
  r.end();
  return out;
}
