import { createPublicKey, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { DerError, encode, Tag } from './der.ts';
import { ecdsaSignatureToDer, ecdsaSignatureToRaw } from './ecdsa.ts';

const hex = (h: string) => new Uint8Array(Buffer.from(h.replace(/\s+/g, ''), 'hex'));
const toHex = (b: Uint8Array) => Buffer.from(b).toString('hex');

describe('ecdsaSignatureToDer', () => {
  it('WebCrypto signatures verify in OpenSSL (through Node) as DER, for P-256 and P-384', async () => {
    for (const [namedCurve, hash] of [
      ['P-256', 'SHA-256'],
      ['P-384', 'SHA-384'],
    ] as const) {
      const keys = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve }, true, ['sign']);
      const spki = Buffer.from(await crypto.subtle.exportKey('spki', keys.publicKey));
      const publicKey = createPublicKey({ key: spki, format: 'der', type: 'spki' });
      // Enough signatures that r or s with the top bit set, which needs a 0x00 pad, occur.
      for (let i = 0; i < 32; i++) {
        const data = new TextEncoder().encode(`message ${i}`);
        const raw = new Uint8Array(
          await crypto.subtle.sign({ name: 'ECDSA', hash }, keys.privateKey, data),
        );
        const der = ecdsaSignatureToDer(raw);
        // OpenSSL re-encodes the parsed signature and rejects any non-DER input.
        expect(verify(hash, data, { key: publicKey, dsaEncoding: 'der' }, der)).toBe(true);
      }
    }
  });

  it('pads a set top bit and drops leading zeros', () => {
    const r = `80${'11'.repeat(31)}`;
    const s = `0000007f${'22'.repeat(28)}`;
    expect(toHex(ecdsaSignatureToDer(hex(r + s)))).toBe(
      `3042 0221 00${r} 021d 7f${'22'.repeat(28)}`.replace(/\s+/g, ''),
    );
    // Zero stays one zero byte.
    expect(toHex(ecdsaSignatureToDer(hex(`${'00'.repeat(32)}${'01'.padStart(64, '0')}`)))).toBe(
      '3006020100020101',
    );
  });

  it('uses a long-form length once the sequence exceeds 127 bytes (P-521)', () => {
    const der = ecdsaSignatureToDer(new Uint8Array(132).fill(0xff));
    expect(toHex(der.subarray(0, 3))).toBe('30818a');
    expect(der.length).toBe(3 + 0x8a);
  });

  it('rejects a signature that is not two equal halves', () => {
    expect(() => ecdsaSignatureToDer(new Uint8Array(63))).toThrow(DerError);
    expect(() => ecdsaSignatureToDer(new Uint8Array(0))).toThrow('is not r ‖ s');
  });
});

describe('ecdsaSignatureToRaw', () => {
  it('round-trips r ‖ s and refuses non-DER integers', () => {
    const raw = new Uint8Array(64).map((_, i) => (i === 0 || i === 32 ? 0x80 : i));
    expect(ecdsaSignatureToRaw(ecdsaSignatureToDer(raw), 32)).toEqual(raw);
    const small = new Uint8Array(64);
    small[31] = 1;
    small[63] = 2;
    expect(ecdsaSignatureToRaw(ecdsaSignatureToDer(small), 32)).toEqual(small);
    const sig = (r: number[], s: number[]) =>
      encode(
        Tag.sequence,
        encode(Tag.integer, new Uint8Array(r)),
        encode(Tag.integer, new Uint8Array(s)),
      );
    expect(() => ecdsaSignatureToRaw(sig([0, 1], [1]), 32)).toThrow(/not minimally encoded/);
    expect(() => ecdsaSignatureToRaw(sig([0x80], [1]), 32)).toThrow(/not positive/);
    expect(() => ecdsaSignatureToRaw(sig([0], [1]), 32)).toThrow(/not positive/);
    expect(() => ecdsaSignatureToRaw(sig(Array(33).fill(1), [1]), 32)).toThrow(
      /larger than the curve/,
    );
    expect(() => ecdsaSignatureToRaw(new Uint8Array([...sig([1], [1]), 0]), 32)).toThrow(
      /trailing/,
    );
  });
});
