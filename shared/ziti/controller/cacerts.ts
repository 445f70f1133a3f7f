/**
 * `/.well-known/est/cacerts` decoding (reference §6.1): base64 (any line length) of a degenerate
 * PKCS#7 SignedData holding the CA certificates → PEM strings. Uses @peculiar/asn1-cms directly
 * (not @peculiar/x509, whose tsyringe dependency needs a Reflect metadata polyfill).
 */
import { ContentInfo, id_signedData, SignedData } from '@peculiar/asn1-cms';
import { AsnConvert } from '@peculiar/asn1-schema';

function base64ToBytes(b64: string): Uint8Array {
  const bin = atob(b64.replace(/\s+/g, ''));
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  return out;
}

function bytesToBase64(bytes: Uint8Array): string {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** DER → PEM with 64-character lines. */
export function derToPem(der: Uint8Array, label = 'CERTIFICATE'): string {
  const lines = bytesToBase64(der).match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** Certificates of a base64 PKCS#7 bundle, as PEM. Throws on anything else. */
export function pkcs7CertificatesToPem(base64: string): string[] {
  const info = AsnConvert.parse(base64ToBytes(base64), ContentInfo);
  if (info.contentType !== id_signedData) throw new Error(`not SignedData: ${info.contentType}`);
  const signed = AsnConvert.parse(info.content, SignedData);
  const pems: string[] = [];
  for (const choice of signed.certificates ?? []) {
    if (!choice.certificate) continue; // attribute certificates etc. are not CA certificates
    pems.push(derToPem(new Uint8Array(AsnConvert.serialize(choice.certificate))));
  }
  return pems;
}
