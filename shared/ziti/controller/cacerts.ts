/**
 * `/.well-known/est/cacerts` decoding (reference §6.1): base64 (any line length) of a degenerate
 * PKCS#7 SignedData (RFC 5652) holding the CA certificates → PEM strings. The certificates are
 * handed on as the exact bytes the controller sent; what checks them (the TLS layer) parses them.
 */
import { contextTag, DerError, DerReader, decodeOid, readOne, Tag } from '../../asn1/der.ts';
import { base64ToBytes, derToPem } from '../../asn1/pem.ts';

export { derToPem };

const ID_SIGNED_DATA = '1.2.840.113549.1.7.2';
/** ContentInfo.content [0] EXPLICIT; SignedData.certificates [0] IMPLICIT SET. */
const CONTEXT_0 = contextTag(0, true);
/** SignedData.crls [1] IMPLICIT SET. */
const CONTEXT_1 = contextTag(1, true);

/** Certificates of a base64 PKCS#7 bundle, as PEM. Throws a `DerError` on anything else. */
export function pkcs7CertificatesToPem(base64: string): string[] {
  const bytes = base64ToBytes(base64, 'PKCS#7 bundle');
  // ContentInfo ::= SEQUENCE { contentType OBJECT IDENTIFIER, content [0] EXPLICIT ANY }
  const info = new DerReader(
    readOne(bytes, 'PKCS#7 ContentInfo', Tag.sequence).value,
    'PKCS#7 ContentInfo',
  );
  const contentType = decodeOid(info.read(Tag.oid).value);
  if (contentType !== ID_SIGNED_DATA)
    throw new DerError(`PKCS#7 ContentInfo: content type ${contentType} is not signedData`);
  const explicit = info.enter(CONTEXT_0);
  info.end();
  // SignedData ::= SEQUENCE { version, digestAlgorithms SET, encapContentInfo SEQUENCE,
  //   certificates [0] IMPLICIT SET OPTIONAL, crls [1] IMPLICIT SET OPTIONAL, signerInfos SET }
  const signed = explicit.enter(Tag.sequence, 'PKCS#7 SignedData');
  explicit.end();
  signed.read(Tag.integer);
  signed.read(Tag.set);
  signed.read(Tag.sequence);
  const certificates = signed.optional(CONTEXT_0);
  signed.optional(CONTEXT_1);
  signed.read(Tag.set);
  signed.end();

  const pems: string[] = [];
  if (!certificates) return pems;
  const choices = new DerReader(certificates.value, 'PKCS#7 certificates');
  while (!choices.done) {
    const choice = choices.read();
    // Other CertificateChoices ([0]-[3]: extended, attribute and other certificates) are not CA
    // certificates. A Certificate is one SEQUENCE; its contents are left to whoever verifies it.
    if (choice.tag !== Tag.sequence) continue;
    pems.push(derToPem(choice.raw));
  }
  return pems;
}
