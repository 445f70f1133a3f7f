/** Test certificates made fresh in each run with WebCrypto keys (@peculiar/x509); nothing on disk. */
import {
  BasicConstraintsExtension,
  ExtendedKeyUsageExtension,
  type Extension,
  type JsonGeneralName,
  KeyUsageFlags,
  KeyUsagesExtension,
  PemConverter,
  SubjectAlternativeNameExtension,
  type X509Certificate,
  X509CertificateGenerator,
} from '../../x509.ts';

const EC = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const RSA = {
  name: 'RSASSA-PKCS1-v1_5',
  modulusLength: 2048,
  publicExponent: new Uint8Array([1, 0, 1]),
  hash: 'SHA-256',
} as const;

export interface Issued {
  cert: X509Certificate;
  der: Uint8Array;
  pem: string;
  keys: CryptoKeyPair;
  /** PKCS#8 PEM of the private key (only for keys made extractable, i.e. servers and CAs). */
  keyPem?: string;
}

const notBefore = () => new Date(Date.now() - 60_000);
const notAfter = (days = 2) => new Date(Date.now() + days * 86_400_000);

async function issue(
  subject: string,
  keys: CryptoKeyPair,
  issuer: Issued | undefined,
  extensions: Extension[],
  extractable: boolean,
  validity?: { notBefore: Date; notAfter: Date },
): Promise<Issued> {
  const cert = issuer
    ? await X509CertificateGenerator.create({
        subject,
        issuer: issuer.cert.subject,
        publicKey: keys.publicKey,
        signingKey: issuer.keys.privateKey,
        signingAlgorithm: EC,
        notBefore: validity?.notBefore ?? notBefore(),
        notAfter: validity?.notAfter ?? notAfter(),
        extensions,
      })
    : await X509CertificateGenerator.createSelfSigned({
        name: subject,
        keys,
        signingAlgorithm: EC,
        notBefore: validity?.notBefore ?? notBefore(),
        notAfter: validity?.notAfter ?? notAfter(),
        extensions,
      });
  const der = new Uint8Array(cert.rawData);
  const out: Issued = { cert, der, pem: `${cert.toString('pem').trim()}\n`, keys };
  if (extractable) {
    const pkcs8 = await crypto.subtle.exportKey('pkcs8', keys.privateKey);
    out.keyPem = `${PemConverter.encode(pkcs8, 'PRIVATE KEY').trim()}\n`;
  }
  return out;
}

const ecKeys = (extractable: boolean) =>
  crypto.subtle.generateKey(EC, extractable, ['sign', 'verify']) as Promise<CryptoKeyPair>;

const caExtensions = () => [
  new BasicConstraintsExtension(true, undefined, true),
  new KeyUsagesExtension(KeyUsageFlags.keyCertSign | KeyUsageFlags.cRLSign, true),
];

const serverExtensions = () => [
  new BasicConstraintsExtension(false, undefined, true),
  new SubjectAlternativeNameExtension([
    { type: 'dns', value: 'localhost' },
    { type: 'ip', value: '127.0.0.1' },
  ]),
];

export interface TestPki {
  root: Issued;
  intermediate: Issued;
  /** EC P-256 server certificate issued by the intermediate (send `chainPem`). */
  serverEc: Issued & { chainPem: string };
  /** RSA 2048 server certificate issued by the root. */
  serverRsa: Issued;
  /** Client: leaf issued by the root, non-extractable key. */
  client: Issued;
  /** A second, unrelated CA with a server and client certificate of its own. */
  otherRoot: Issued;
  otherServer: Issued;
  otherClient: Issued;
  /** An EC server certificate of the root that has expired. */
  expiredServer: Issued;
}

export async function createPki(): Promise<TestPki> {
  const root = await issue('CN=zt test root', await ecKeys(true), undefined, caExtensions(), true);
  const intermediate = await issue(
    'CN=zt test intermediate',
    await ecKeys(true),
    root,
    caExtensions(),
    true,
  );
  const serverEc0 = await issue(
    'CN=localhost',
    await ecKeys(true),
    intermediate,
    serverExtensions(),
    true,
  );
  const serverEc = { ...serverEc0, chainPem: serverEc0.pem + intermediate.pem };
  const rsaKeys = (await crypto.subtle.generateKey(RSA, true, ['sign', 'verify'])) as CryptoKeyPair;
  const serverRsa = await issue('CN=localhost rsa', rsaKeys, root, serverExtensions(), true);
  const client = await issue(
    'CN=zt test client',
    await ecKeys(false),
    root,
    [new BasicConstraintsExtension(false, undefined, true)],
    false,
  );
  const otherRoot = await issue(
    'CN=zt other root',
    await ecKeys(true),
    undefined,
    caExtensions(),
    true,
  );
  const otherServer = await issue(
    'CN=localhost',
    await ecKeys(true),
    otherRoot,
    serverExtensions(),
    true,
  );
  const otherClient = await issue('CN=zt other client', await ecKeys(false), otherRoot, [], false);
  const expiredServer = await issue(
    'CN=localhost',
    await ecKeys(true),
    root,
    serverExtensions(),
    true,
    {
      notBefore: new Date(Date.now() - 10 * 86_400_000),
      notAfter: new Date(Date.now() - 86_400_000),
    },
  );
  return {
    root,
    intermediate,
    serverEc,
    serverRsa,
    client,
    otherRoot,
    otherServer,
    otherClient,
    expiredServer,
  };
}

/**
 * An EC leaf of `issuer` with an extractable key (so a Node server can use it), the given
 * subjectAltNames and, when `eku` is given, an extendedKeyUsage extension with those OIDs.
 */
export async function issueLeaf(
  issuer: Issued,
  params: { subject: string; names?: JsonGeneralName[]; eku?: string[] },
): Promise<Issued> {
  const extensions: Extension[] = [new BasicConstraintsExtension(false, undefined, true)];
  if (params.names?.length) extensions.push(new SubjectAlternativeNameExtension(params.names));
  if (params.eku) extensions.push(new ExtendedKeyUsageExtension(params.eku));
  return issue(params.subject, await ecKeys(true), issuer, extensions, true);
}
