import { describe, expect, it } from 'vitest';
import { rfc8448, toHex } from './_test/rfc8448.ts';
import { verifyCertificateSignature, verifyServerChain } from './certificate.ts';
import { ExtensionType } from './constants.ts';
import {
  finishedVerifyData,
  KeySchedule,
  nextTrafficSecret,
  SUITES,
  Transcript,
  trafficKeys,
} from './keyschedule.ts';
import {
  certificateVerifyContent,
  parseCertificate,
  parseCertificateVerify,
  parseEncryptedExtensions,
  parseServerHello,
  parseServerKeyShare,
} from './messages.ts';

const aes128 = SUITES.find((s) => s.name === 'TLS_AES_128_GCM_SHA256')!;

describe('key schedule (RFC 8448 §3)', () => {
  const schedule = new KeySchedule(aes128, rfc8448.sharedSecret);
  const transcript = new Transcript();
  transcript.add(rfc8448.clientHello);
  transcript.setHash(aes128.hash);
  transcript.add(rfc8448.serverHello);

  it('derives the handshake secret and traffic secrets', () => {
    expect(toHex(schedule.handshakeSecret)).toBe(rfc8448.handshakeSecret);
    const th = transcript.digest();
    expect(toHex(th)).toBe(rfc8448.transcriptToServerHello);
    const hs = schedule.handshakeTrafficSecrets(th);
    expect(toHex(hs.client)).toBe(rfc8448.clientHandshakeTraffic);
    expect(toHex(hs.server)).toBe(rfc8448.serverHandshakeTraffic);
    const ck = trafficKeys(aes128, hs.client);
    const sk = trafficKeys(aes128, hs.server);
    expect(toHex(ck.key)).toBe(rfc8448.clientHandshakeKey);
    expect(toHex(ck.iv)).toBe(rfc8448.clientHandshakeIv);
    expect(toHex(sk.key)).toBe(rfc8448.serverHandshakeKey);
    expect(toHex(sk.iv)).toBe(rfc8448.serverHandshakeIv);
  });

  it('verifies the server Finished and derives the application secrets', () => {
    const t = new Transcript();
    t.add(rfc8448.clientHello);
    t.setHash(aes128.hash);
    t.add(rfc8448.serverHello);
    const hs = schedule.handshakeTrafficSecrets(t.digest());
    t.add(rfc8448.encryptedExtensions);
    t.add(rfc8448.certificate);
    t.add(rfc8448.certificateVerify);
    const verify = finishedVerifyData(aes128, hs.server, t.digest());
    expect(toHex(verify)).toBe(toHex(rfc8448.serverFinished.subarray(4)));
    t.add(rfc8448.serverFinished);
    expect(toHex(t.digest())).toBe(rfc8448.transcriptToServerFinished);
    const ap = schedule.applicationTrafficSecrets(t.digest());
    expect(toHex(ap.client)).toBe(rfc8448.clientApplicationTraffic);
    expect(toHex(ap.server)).toBe(rfc8448.serverApplicationTraffic);
    // KeyUpdate derivation is a pure function of the secret: different and stable.
    const next = nextTrafficSecret(aes128, ap.client);
    expect(next).not.toEqual(ap.client);
    expect(nextTrafficSecret(aes128, ap.client)).toEqual(next);
  });

  it('a one-byte change in the transcript changes Finished', () => {
    const t = new Transcript();
    const ch = rfc8448.clientHello.slice();
    ch[10]! ^= 1;
    t.add(ch);
    t.setHash(aes128.hash);
    t.add(rfc8448.serverHello);
    expect(toHex(t.digest())).not.toBe(rfc8448.transcriptToServerHello);
  });
});

describe('RFC 8448 server flight through our parsers', () => {
  it('parses ServerHello, EncryptedExtensions, Certificate and verifies the RSA-PSS CertificateVerify', async () => {
    const sh = parseServerHello(rfc8448.serverHello.subarray(4));
    expect(sh.cipherSuite).toBe(0x1301);
    expect(sh.selectedVersion).toBe(0x0304);
    expect(sh.isHelloRetryRequest).toBe(false);
    const ks = parseServerKeyShare(sh.extensions.get(ExtensionType.keyShare)!);
    expect(ks.group).toBe(0x001d);
    expect(ks.publicKey.length).toBe(32);
    expect(parseEncryptedExtensions(rfc8448.encryptedExtensions.subarray(4)).size).toBe(3);
    const cert = parseCertificate(rfc8448.certificate.subarray(4));
    expect(cert.certificates).toHaveLength(1);

    // The RFC's certificate is self-signed-looking but has no CA flag and expired in 2026: use
    // it as its own trust anchor, at a date inside its validity.
    const leaf = await verifyServerChain(
      cert.certificates,
      cert.certificates,
      new Date('2020-01-01'),
    );
    const t = new Transcript();
    t.add(rfc8448.clientHello);
    t.setHash(aes128.hash);
    t.add(rfc8448.serverHello);
    t.add(rfc8448.encryptedExtensions);
    t.add(rfc8448.certificate);
    const cv = parseCertificateVerify(rfc8448.certificateVerify.subarray(4));
    expect(cv.scheme).toBe(0x0804);
    const content = certificateVerifyContent('server', t.digest());
    await verifyCertificateSignature(leaf, cv.scheme, cv.signature, content);
    const bad = cv.signature.slice();
    bad[5]! ^= 0x40;
    await expect(verifyCertificateSignature(leaf, cv.scheme, bad, content)).rejects.toMatchObject({
      code: 'ERR_TLS_BAD_SIGNATURE',
      alert: 51,
    });
    await expect(
      verifyServerChain(cert.certificates, cert.certificates, new Date('2027-01-01')),
    ).rejects.toMatchObject({ code: 'ERR_TLS_CERTIFICATE_EXPIRED', alert: 45 });
  });
});
