import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { DerError } from './der.ts';
import { base64ToBytes, derToPem, pemToDer } from './pem.ts';

describe('PEM', () => {
  it('round-trips DER of every length through 64-character lines', () => {
    for (const n of [0, 1, 2, 3, 47, 48, 49, 100, 40_000]) {
      const der = new Uint8Array(n).map((_, i) => (i * 7 + n) & 0xff);
      const pem = derToPem(der, 'TEST');
      expect(pem.startsWith('-----BEGIN TEST-----\n')).toBe(true);
      expect(pem.endsWith('\n-----END TEST-----\n')).toBe(true);
      for (const line of pem.split('\n').slice(1, -2)) expect(line.length).toBeLessThanOrEqual(64);
      expect(pemToDer(pem, 'TEST')).toEqual(der);
    }
  });

  it('agrees with OpenSSL and Node on a certificate', () => {
    const pem = execFileSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:P-256',
      '-nodes',
      '-keyout',
      '/dev/null',
      '-subj',
      '/CN=pem',
      '-days',
      '1',
    ]).toString();
    const der = pemToDer(pem);
    expect(Buffer.from(der)).toEqual(new X509Certificate(pem).raw);
    expect(derToPem(der)).toBe(pem);
  });

  it('reads the first block with the label, and CRLF line breaks', () => {
    const a = derToPem(new Uint8Array([1, 2, 3]), 'OTHER');
    const b = derToPem(new Uint8Array([4, 5, 6]));
    expect(pemToDer(`${a}${b}`)).toEqual(new Uint8Array([4, 5, 6]));
    expect(pemToDer(b.replace(/\n/g, '\r\n'))).toEqual(new Uint8Array([4, 5, 6]));
  });

  it('rejects text without the block and bodies that are not base64', () => {
    expect(() => pemToDer('no certificate')).toThrow(DerError);
    expect(() => pemToDer(derToPem(new Uint8Array([1]), 'OTHER'))).toThrow(
      'no PEM CERTIFICATE block',
    );
    expect(() => pemToDer('-----BEGIN CERTIFICATE-----\nAB*C\n-----END CERTIFICATE-----')).toThrow(
      'PEM CERTIFICATE: not base64',
    );
    expect(() => base64ToBytes('QUJD=', 'test')).toThrow('test: not base64');
    expect(() => base64ToBytes('Q', 'test')).toThrow(expect.objectContaining({ code: 'ERR_DER' }));
    expect(base64ToBytes(' QU\nJD\n', 'test')).toEqual(new TextEncoder().encode('ABC'));
  });

  describe("with the engine's Uint8Array.fromBase64", () => {
    const holder = Uint8Array as unknown as { fromBase64?: (text: string) => Uint8Array };
    afterEach(() => {
      delete holder.fromBase64;
    });

    it('decodes through it, whitespace included, and reports its refusal as DerError', () => {
      const seen: string[] = [];
      // Node 20 has none: a stand-in with the engines' behaviour (ASCII whitespace skipped,
      // SyntaxError on anything else that is not base64).
      holder.fromBase64 = (text) => {
        seen.push(text);
        const compact = text.replace(/[\t\n\f\r ]/g, '');
        if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact)) throw new SyntaxError('bad base64');
        return new Uint8Array(Buffer.from(compact, 'base64'));
      };
      const der = new Uint8Array(300).map((_, i) => i & 0xff);
      expect(pemToDer(derToPem(der).replace(/\n/g, '\r\n'))).toEqual(der);
      expect(seen).toHaveLength(1);
      expect(() => base64ToBytes('ab*d', 'test')).toThrow(new DerError('test: not base64'));
    });
  });
});
