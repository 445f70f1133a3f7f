/**
 * A scripted TLS 1.3 server for negative tests: it runs a real handshake (x25519, AES-128-GCM,
 * ECDSA P-256) and then misbehaves as told. Built from this package's primitives, so it only
 * serves to check that the client rejects what it must; the positive tests use independent peers.
 */
import net from 'node:net';
import { x25519 } from '@noble/curves/ed25519.js';
import { ecdsaSignatureToDer } from '../../asn1/ecdsa.ts';
import { ByteReader, ByteWriter, concat } from '../_internal/bytes.ts';
import { createRecordCipher } from '../aead.ts';
import { ContentType, ExtensionType, HandshakeType } from '../constants.ts';
import {
  finishedVerifyData,
  KeySchedule,
  nextTrafficSecret,
  SUITES,
  Transcript,
  trafficKeys,
} from '../keyschedule.ts';
import {
  certificateVerifyContent,
  encodeCertificate,
  encodeCertificateVerify,
  encodeHandshake,
  encodeKeyUpdate,
} from '../messages.ts';
import {
  decodeInnerPlaintext,
  encodeInnerPlaintext,
  encodePlaintextRecord,
  encodeRecordHeader,
  RecordReader,
} from '../record.ts';
import { type Listening, listen } from './node-peer.ts';

export type Misbehaviour =
  | 'none'
  | 'bad-finished'
  | 'certificate-before-ee'
  | 'plaintext-ee-first'
  | 'oversized-record'
  | 'truncated-record'
  | 'tls12-downgrade'
  | 'silent'
  /** Right after its Finished: a KeyUpdate and 12 records under the new keys, in one write. */
  | 'key-update-burst';

export interface ScriptedServerOptions {
  chain: Uint8Array[];
  key: CryptoKey;
  misbehave: Misbehaviour;
}

const suite = SUITES[0]!; // TLS_AES_128_GCM_SHA256

const parseClientHello = (body: Uint8Array) => {
  const r = new ByteReader(body, 'ClientHello');
  r.u16();
  r.bytes(32);
  const sessionId = r.vector(1);
  r.vector(2);
  r.vector(1);
  const ext = r.sub(2);
  let x25519Share: Uint8Array | undefined;
  while (ext.remaining > 0) {
    const type = ext.u16();
    const data = new ByteReader(ext.vector(2), 'ext');
    if (type !== ExtensionType.keyShare) continue;
    const list = data.sub(2);
    while (list.remaining > 0) {
      const group = list.u16();
      const key = list.vector(2);
      if (group === 0x001d) x25519Share = key;
    }
  }
  return { sessionId, x25519Share };
};

/** Starts the server; `alerts` collects the alert descriptions the client sent. */
export async function startScriptedServer(
  options: ScriptedServerOptions,
): Promise<Listening & { alerts: number[] }> {
  const alerts: number[] = [];
  const server = net.createServer((socket) => {
    socket.setNoDelay(true);
    const records = new RecordReader();
    let clientHandshake: ReturnType<typeof createRecordCipher> | undefined;
    let clientSeq = 0;
    let started = false;
    socket.on('error', () => {});
    socket.on('data', async (chunk) => {
      records.push(new Uint8Array(chunk));
      for (let rec = records.next(); rec; rec = records.next()) {
        if (rec.type === ContentType.alert) alerts.push(rec.fragment[1]!);
        if (rec.type === ContentType.applicationData && clientHandshake) {
          try {
            const plain = decodeInnerPlaintext(
              await clientHandshake.open(clientSeq++, rec.header, rec.fragment),
            );
            if (plain.type === ContentType.alert) alerts.push(plain.content[1]!);
          } catch {
            alerts.push(-1);
          }
        }
        if (rec.type !== ContentType.handshake || started) continue;
        started = true;
        const clientHello = rec.fragment;
        const { sessionId, x25519Share } = parseClientHello(clientHello.subarray(4));
        if (options.misbehave === 'silent') continue;
        if (options.misbehave === 'plaintext-ee-first') {
          socket.write(
            encodePlaintextRecord(
              ContentType.handshake,
              encodeHandshake(HandshakeType.encryptedExtensions, new Uint8Array([0, 0])),
            ),
          );
          continue;
        }
        if (options.misbehave === 'oversized-record') {
          socket.write(encodeRecordHeader(ContentType.handshake, 20_000));
          socket.write(new Uint8Array(20_000));
          continue;
        }
        if (options.misbehave === 'truncated-record') {
          socket.end(encodeRecordHeader(ContentType.handshake, 100));
          continue;
        }
        const priv = x25519.utils.randomSecretKey();
        const random = crypto.getRandomValues(new Uint8Array(32));
        const tls13 = options.misbehave !== 'tls12-downgrade';
        if (!tls13) random.set([0x44, 0x4f, 0x57, 0x4e, 0x47, 0x52, 0x44, 0x01], 24);
        const sh = encodeHandshake(
          HandshakeType.serverHello,
          new ByteWriter()
            .u16(0x0303)
            .bytes(random)
            .vector(1, (w) => w.bytes(sessionId))
            .u16(tls13 ? suite.id : 0xc02b)
            .u8(0)
            .vector(2, (w) => {
              if (!tls13) return;
              w.u16(ExtensionType.supportedVersions).vector(2, (w) => w.u16(0x0304));
              w.u16(ExtensionType.keyShare).vector(2, (w) =>
                w.u16(0x001d).vector(2, (w) => w.bytes(x25519.getPublicKey(priv))),
              );
            })
            .finish(),
        );
        socket.write(encodePlaintextRecord(ContentType.handshake, sh));
        if (!tls13) continue;
        const transcript = new Transcript();
        transcript.add(clientHello);
        transcript.setHash(suite.hash);
        transcript.add(sh);
        const schedule = new KeySchedule(suite, x25519.getSharedSecret(priv, x25519Share!));
        const hs = schedule.handshakeTrafficSecrets(transcript.digest());
        const serverCipher = createRecordCipher(suite, trafficKeys(suite, hs.server));
        clientHandshake = createRecordCipher(suite, trafficKeys(suite, hs.client));
        let seq = 0;
        const send = async (type: number, content: Uint8Array) => {
          const inner = encodeInnerPlaintext(content, type);
          const header = encodeRecordHeader(ContentType.applicationData, inner.length + 16);
          socket.write(concat([header, await serverCipher.seal(seq++, header, inner)]));
        };
        const ee = encodeHandshake(HandshakeType.encryptedExtensions, new Uint8Array([0, 0]));
        const cert = encodeCertificate(new Uint8Array(0), options.chain);
        if (options.misbehave === 'certificate-before-ee') {
          await send(ContentType.handshake, cert);
          continue;
        }
        transcript.add(ee);
        transcript.add(cert);
        const signature = ecdsaSignatureToDer(
          new Uint8Array(
            await crypto.subtle.sign(
              { name: 'ECDSA', hash: 'SHA-256' },
              options.key,
              new Uint8Array(certificateVerifyContent('server', transcript.digest())),
            ),
          ),
        );
        const cv = encodeCertificateVerify(0x0403, signature);
        transcript.add(cv);
        const verify = finishedVerifyData(suite, hs.server, transcript.digest());
        if (options.misbehave === 'bad-finished') verify[0]! ^= 1;
        const fin = encodeHandshake(HandshakeType.finished, verify);
        await send(ContentType.handshake, concat([ee, cert, cv, fin]));
        if (options.misbehave === 'key-update-burst') {
          transcript.add(fin);
          const ap = schedule.applicationTrafficSecrets(transcript.digest());
          const seal = async (secret: Uint8Array, seqNo: number, type: number, c: Uint8Array) => {
            const cipher = createRecordCipher(suite, trafficKeys(suite, secret));
            const inner = encodeInnerPlaintext(c, type);
            const header = encodeRecordHeader(ContentType.applicationData, inner.length + 16);
            return concat([header, await cipher.seal(seqNo, header, inner)]);
          };
          const burst = [await seal(ap.server, 0, ContentType.handshake, encodeKeyUpdate(false))];
          const next = nextTrafficSecret(suite, ap.server);
          for (let i = 0; i < 12; i++) {
            burst.push(
              await seal(next, i, ContentType.applicationData, new Uint8Array(1000).fill(i)),
            );
          }
          socket.write(concat(burst));
        }
      }
    });
  });
  return { ...(await listen(server)), alerts };
}
