/**
 * Record I/O over the transport: reads and parses records, protects and writes them in order.
 *
 * Concurrency contract: `send()` assigns the sequence number and starts encryption synchronously,
 * so records may be sent from the writable, the read side (KeyUpdate, alerts) and close() without
 * locks; encryption of several records overlaps, and transport writes stay in sequence order.
 * Reading is single-consumer (the handshake, then the connection's pull loop).
 */
import type { ByteDuplex } from '../streams/duplex.ts';
import { createRecordCipher, type RecordCipher } from './aead.ts';
import {
  AEAD_TAG_LENGTH,
  AlertDescription,
  AlertLevel,
  ContentType,
  MAX_CIPHERTEXT,
  RECORD_HEADER_LENGTH,
} from './constants.ts';
import { TlsClosedError, TlsIntegrityError, TlsProtocolError } from './errors.ts';
import { nextTrafficSecret, type SuiteParams, trafficKeys } from './keyschedule.ts';
import { encodeAlert } from './messages.ts';
import {
  decodeInnerPlaintext,
  encodeInnerPlaintext,
  encodePlaintextRecord,
  encodeRecordHeader,
  RecordReader,
  recordOverflow,
  type TlsRecord,
} from './record.ts';

/** One direction's keys: cipher, sequence number and the traffic secret for KeyUpdate. */
export class Epoch {
  seq = 0;
  readonly cipher: RecordCipher;
  constructor(
    readonly suite: SuiteParams,
    readonly secret: Uint8Array,
  ) {
    this.cipher = createRecordCipher(suite, trafficKeys(suite, secret));
  }
  next(): Epoch {
    return new Epoch(this.suite, nextTrafficSecret(this.suite, this.secret));
  }
}

export const badRecordMac = (cause?: unknown) =>
  new TlsIntegrityError('ERR_TLS_BAD_RECORD_MAC', 'record failed authentication', {
    alert: AlertDescription.badRecordMac,
    cause,
  });

export const transportClosed = (what: string) =>
  new TlsClosedError('ERR_TLS_TRANSPORT_CLOSED', `transport closed ${what}`);

export class RecordLayer {
  readonly records = new RecordReader();
  read?: Epoch;
  write?: Epoch;
  eof = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private queueTail: Promise<void> = Promise.resolve();
  private writeError?: unknown;
  private transportClosed = false;

  constructor(transport: ByteDuplex) {
    this.reader = transport.readable.getReader();
    this.writer = transport.writable.getWriter();
    // Failures surface through the promises of write(); this keeps closed() quiet.
    this.writer.closed.catch(() => {});
  }

  /** Reads one transport chunk into the record parser; false at end of stream. */
  async fill(): Promise<boolean> {
    if (this.eof) return false;
    const { value, done } = await this.reader.read();
    if (done) {
      this.eof = true;
      return false;
    }
    this.records.push(value);
    return true;
  }

  /** The next raw record, reading the transport as needed; throws at end of stream. */
  async nextRecord(): Promise<TlsRecord> {
    for (;;) {
      const record = this.records.next();
      if (record) return record;
      if (!(await this.fill())) {
        throw transportClosed(
          this.records.bufferedBytes > 0 ? 'inside a record (truncated)' : 'before close_notify',
        );
      }
    }
  }

  /** Decrypts a record with the given epoch (assigning its sequence number now). */
  open(epoch: Epoch, record: TlsRecord): Promise<{ type: number; content: Uint8Array }> {
    if (record.type !== ContentType.applicationData) {
      return Promise.reject(
        new TlsProtocolError('ERR_TLS_UNEXPECTED_MESSAGE', `plaintext record type ${record.type}`, {
          alert: AlertDescription.unexpectedMessage,
        }),
      );
    }
    if (record.fragment.length > MAX_CIPHERTEXT) return Promise.reject(recordOverflow('record'));
    if (record.fragment.length < AEAD_TAG_LENGTH + 1) return Promise.reject(badRecordMac());
    const seq = epoch.seq++;
    return epoch.cipher.open(seq, record.header, record.fragment).then(
      (plaintext) => decodeInnerPlaintext(plaintext),
      (err) => {
        throw badRecordMac(err);
      },
    );
  }

  /**
   * Sends one record (content at most 2^14 bytes) with the current write epoch. Resolves when the
   * transport accepted it.
   */
  send(type: number, content: Uint8Array): Promise<void> {
    let make: Promise<Uint8Array>;
    const epoch = this.write;
    if (epoch) {
      const inner = encodeInnerPlaintext(content, type);
      const header = encodeRecordHeader(
        ContentType.applicationData,
        inner.length + AEAD_TAG_LENGTH,
      );
      make = epoch.cipher.seal(epoch.seq++, header, inner).then((sealed) => {
        const record = new Uint8Array(RECORD_HEADER_LENGTH + sealed.length);
        record.set(header);
        record.set(sealed, RECORD_HEADER_LENGTH);
        return record;
      });
    } else {
      make = Promise.resolve(encodePlaintextRecord(type, content));
    }
    return this.enqueue(make);
  }

  /** Sends bytes already framed (the first ClientHello uses legacy version 0x0301). */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.enqueue(Promise.resolve(bytes));
  }

  private enqueue(make: Promise<Uint8Array>): Promise<void> {
    make.catch(() => {});
    let accepted: Promise<void> = Promise.resolve();
    const queued = this.queueTail.then(async () => {
      if (this.writeError !== undefined) throw this.writeError;
      let record: Uint8Array;
      try {
        record = await make;
      } catch (err) {
        this.writeError = err;
        throw err;
      }
      if (this.transportClosed) throw transportClosed('for writing');
      accepted = this.writer.write(record);
      accepted.catch((err) => {
        this.writeError ??= err;
      });
    });
    this.queueTail = queued.catch(() => {});
    return queued.then(() => accepted);
  }

  /** Sends an alert (best effort: a broken transport is not reported again). */
  async sendAlert(description: number): Promise<void> {
    const level =
      description === AlertDescription.closeNotify ? AlertLevel.warning : AlertLevel.fatal;
    try {
      await this.send(ContentType.alert, encodeAlert(description, level));
    } catch {
      // the transport is gone; the caller reports the original error
    }
  }

  /** Waits until every record sent so far reached the transport. */
  flush(): Promise<void> {
    return this.queueTail;
  }

  /** Half-closes the transport's writable after the queued records. */
  async closeWrite(): Promise<void> {
    await this.flush();
    if (this.transportClosed) return;
    this.transportClosed = true;
    try {
      await this.writer.close();
    } catch {
      // already closed or errored
    }
  }

  /** Tears the transport down both ways. */
  abort(reason?: unknown) {
    this.transportClosed = true;
    this.writeError ??= reason ?? transportClosed('');
    this.writer.abort(reason).catch(() => {});
    this.reader.cancel(reason).catch(() => {});
  }

  /** Stops reading the transport (after close_notify both ways). */
  releaseRead() {
    this.reader.cancel().catch(() => {});
  }
}
