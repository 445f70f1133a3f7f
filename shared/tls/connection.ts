/**
 * An established TLS 1.3 connection as a ByteDuplex, with pipelined record protection.
 *
 * Read side: `pull()` keeps up to `recordsInFlight` records decrypting at once while it reads
 * more from the transport, and enqueues plaintext strictly in record order. A KeyUpdate changes
 * the read keys for the records after it, so records already dispatched behind it are decrypted
 * again with the new keys. Write side: writes fill records of at most 2^14 bytes, each encrypted
 * as soon as it is full or the transport has nothing else on its way (see `write`); a write
 * resolves once it is copied and no more than `recordsInFlight` records are still being encrypted
 * or written.
 */
import type { ByteDuplex } from '../streams/duplex.ts';
import {
  AlertDescription,
  ContentType,
  DEFAULT_RECORDS_IN_FLIGHT,
  HandshakeType,
  KEY_UPDATE_AFTER_RECORDS,
  MAX_PLAINTEXT,
} from './constants.ts';
import { asTlsError, TlsClosedError, TlsError, unexpectedMessage } from './errors.ts';
import type { HandshakeReader, HandshakeResult } from './handshake.ts';
import { encodeKeyUpdate, parseAlert, parseKeyUpdate } from './messages.ts';
import type { TlsRecord } from './record.ts';
import { type Epoch, type RecordLayer, transportClosed } from './record-layer.ts';

interface InFlight {
  record: TlsRecord;
  epoch: Epoch;
  /** Which decryption of the record counts: a KeyUpdate starts another with the new keys. */
  attempt: number;
  /** Set once that decryption settled. */
  opened?: { type: number; content: Uint8Array };
  error?: unknown;
}

export class TlsConnectionImpl implements ByteDuplex {
  readonly readable: ReadableStream<Uint8Array>;
  readonly writable: WritableStream<Uint8Array>;
  /** `write` copies every chunk into the open record before it resolves. */
  readonly writesCopied = true;
  readonly cipherSuite: string;
  readonly group: string;
  readonly peerCertificates: Uint8Array[];

  private readonly inFlight: InFlight[] = [];
  private transportRead?: Promise<void>;
  private transportError?: unknown;
  /** Wakes `pull()` when a record's decryption settles or a transport read ends. */
  private progress?: () => void;
  private readController!: ReadableStreamDefaultController<Uint8Array>;
  private readDone = false;
  private writeDone = false;
  private failure?: TlsError;
  /** Records sealed and not yet taken by the transport, and a write waiting for one to be. */
  private recordsPending = 0;
  private recordTaken?: () => void;
  /** The TLSInnerPlaintext of the next record: application data not yet sealed, then its type. */
  private readonly openRecord = new Uint8Array(MAX_PLAINTEXT + 1);
  private openLength = 0;
  private recordsSinceKeyUpdate = 0;

  constructor(
    private readonly layer: RecordLayer,
    private readonly hs: HandshakeReader,
    result: HandshakeResult,
    private readonly recordsInFlight = DEFAULT_RECORDS_IN_FLIGHT,
  ) {
    this.cipherSuite = result.suite.name;
    this.group = result.group;
    this.peerCertificates = result.peerCertificates;
    this.readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.readController = controller;
        },
        pull: () => this.pull(),
        cancel: () => this.stopReading(),
      },
      { highWaterMark: 4 * MAX_PLAINTEXT, size: (chunk) => chunk.byteLength },
    );
    this.writable = new WritableStream<Uint8Array>({
      write: (chunk) => this.write(chunk),
      close: () => this.closeWrite(),
      abort: (reason) => this.fail(asTlsError(reason), false),
    });
  }

  // ---- read side ----

  private dispatch() {
    const epoch = this.layer.read!;
    while (this.inFlight.length < this.recordsInFlight) {
      const record = this.layer.records.next();
      if (!record) return;
      const entry: InFlight = { record, epoch, attempt: 0 };
      this.inFlight.push(entry);
      this.open(entry);
    }
  }

  /**
   * Starts the record's decryption; its result is kept on the entry and wakes `pull()`. No
   * promise per record beyond the decryption's own: in Firefox each promise and reaction costs
   * microseconds, a race of several about ten.
   */
  private open(entry: InFlight) {
    const attempt = ++entry.attempt;
    entry.opened = undefined;
    entry.error = undefined;
    this.layer.open(entry.epoch, entry.record).then(
      (opened) => {
        if (entry.attempt !== attempt) return;
        entry.opened = opened;
        this.wake();
      },
      (error) => {
        if (entry.attempt !== attempt) return;
        entry.error = error ?? new TlsError('ERR_TLS_INTERNAL', 'record decryption failed');
        this.wake();
      },
    );
  }

  private wake() {
    const progress = this.progress;
    this.progress = undefined;
    progress?.();
  }

  private startTransportRead() {
    if (this.transportRead || this.layer.eof) return;
    this.transportRead = this.layer.fill().then(
      () => {
        this.transportRead = undefined;
        this.wake();
      },
      (err) => {
        this.transportRead = undefined;
        this.layer.eof = true;
        this.transportError = err;
        this.wake();
      },
    );
  }

  private async pull(): Promise<void> {
    try {
      for (;;) {
        if (this.readDone) return;
        this.dispatch();
        if (this.inFlight.length < this.recordsInFlight) this.startTransportRead();
        const head = this.inFlight[0];
        if (head?.error !== undefined) throw head.error;
        const opened = head?.opened;
        if (!opened) {
          if (this.transportError !== undefined) throw this.transportError;
          if (!head && !this.transportRead) {
            // End of stream without close_notify: possibly a truncation attack (RFC 8446 §6.1).
            throw transportClosed(
              this.layer.records.bufferedBytes > 0
                ? 'inside a record (truncated)'
                : 'before close_notify',
            );
          }
          // The head's decryption or more bytes, whichever comes first.
          await new Promise<void>((resolve) => {
            this.progress = resolve;
          });
          continue;
        }
        this.inFlight.shift();
        if (opened.type === ContentType.applicationData) {
          if (opened.content.length > 0) {
            this.readController.enqueue(opened.content);
            // Go on while the stream wants more: each return costs the stream a call back here.
            if ((this.readController.desiredSize ?? 0) <= 0) return;
          }
          continue;
        }
        await this.onControlRecord(opened.type, opened.content);
        // After a KeyUpdate every record still in flight was dispatched under the old keys (none
        // were dispatched since `head` was taken): decrypt them again, in order, with the new ones.
        if (this.layer.read !== head.epoch) this.redispatch();
      }
    } catch (err) {
      await this.fail(asTlsError(err), true);
    }
  }

  private redispatch() {
    const epoch = this.layer.read!;
    for (const entry of this.inFlight) {
      entry.epoch = epoch;
      this.open(entry);
    }
  }

  private async onControlRecord(type: number, content: Uint8Array) {
    if (type === ContentType.alert) {
      const { description } = parseAlert(content);
      if (description === AlertDescription.closeNotify) {
        // The peer is done sending; our side may still write (RFC 8446 §6.1), so the transport
        // stays open until close() or the writable is closed.
        this.readDone = true;
        this.readController.close();
        return;
      }
      throw this.hs.alertError(content);
    }
    if (type !== ContentType.handshake) throw unexpectedMessage(`record type ${type}`);
    this.hs.push(content);
    for (let m = this.hs.take(); m; m = this.hs.take()) {
      if (m.type === HandshakeType.newSessionTicket) continue; // no resumption: ignored
      if (m.type !== HandshakeType.keyUpdate)
        throw unexpectedMessage(`post-handshake message ${m.type}`);
      const requested = parseKeyUpdate(m.body);
      this.hs.assertEmpty();
      this.layer.read = this.layer.read!.next();
      if (requested && !this.writeDone) this.updateWriteKeys(false).catch(() => {});
    }
  }

  private stopReading() {
    this.readDone = true;
    this.layer.releaseRead();
  }

  // ---- write side ----

  /** Sends a KeyUpdate and switches our write keys (RFC 8446 §4.6.3). */
  updateKeys(requestPeerUpdate = false): Promise<void> {
    if (this.writeDone || this.failure) return Promise.reject(this.failure ?? closed());
    return this.updateWriteKeys(requestPeerUpdate);
  }

  private updateWriteKeys(requestPeerUpdate: boolean) {
    const sent = this.layer.send(ContentType.handshake, encodeKeyUpdate(requestPeerUpdate));
    this.layer.write = this.layer.write!.next();
    this.recordsSinceKeyUpdate = 0;
    return sent;
  }

  /**
   * Application data goes into the open record, which is sealed when full, or at once when no
   * record is on its way to the transport; otherwise it waits until the last one got there. So a
   * lone write leaves at once, and writes that come while records are being encrypted or written
   * (a burst of requests, acknowledgements of several circuits, the tail of one channel frame and
   * the head of the next) share one record and one transport message instead of one each.
   */
  private async write(chunk: Uint8Array) {
    if (this.failure) throw this.failure;
    for (let i = 0; i < chunk.length; ) {
      const n = Math.min(chunk.length - i, MAX_PLAINTEXT - this.openLength);
      this.openRecord.set(chunk.subarray(i, i + n), this.openLength);
      this.openLength += n;
      i += n;
      if (this.openLength === MAX_PLAINTEXT) this.sealOpenRecord();
    }
    if (this.recordsPending === 0) this.sealOpenRecord();
    while (this.recordsPending >= this.recordsInFlight && !this.failure) {
      await new Promise<void>((resolve) => {
        this.recordTaken = resolve;
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Seals the open record, if it holds anything (the buffer is read before this returns). */
  private sealOpenRecord() {
    if (this.openLength === 0 || this.failure) return;
    if (++this.recordsSinceKeyUpdate >= KEY_UPDATE_AFTER_RECORDS) this.updateWriteKeys(false);
    this.openRecord[this.openLength] = ContentType.applicationData;
    this.layer.sendInner(this.openRecord.subarray(0, this.openLength + 1), this.onRecordSent);
    this.recordsPending++; // after: a record that could not be sent is not waited for
    this.openLength = 0;
  }

  private readonly onRecordSent = (error?: unknown) => {
    this.recordsPending--;
    if (error !== undefined) void this.fail(asTlsError(error), false);
    else if (this.recordsPending === 0) this.sealOpenRecord();
    const taken = this.recordTaken;
    this.recordTaken = undefined;
    taken?.();
  };

  private async closeWrite() {
    if (this.writeDone) return;
    this.sealOpenRecord();
    await this.layer.flush();
    if (this.failure) throw this.failure;
    this.writeDone = true;
    await this.layer.sendAlert(AlertDescription.closeNotify);
    await this.layer.closeWrite();
  }

  /** Sends close_notify (once) and closes the transport both ways. */
  async close(): Promise<void> {
    if (!this.writeDone && !this.failure) {
      try {
        this.sealOpenRecord();
        await this.layer.flush();
        this.writeDone = true;
        await this.layer.sendAlert(AlertDescription.closeNotify);
        await this.layer.closeWrite();
      } catch {
        // transport already gone
      }
    }
    this.writeDone = true;
    if (!this.readDone) {
      this.readDone = true;
      try {
        this.readController.close();
      } catch {
        // already closed or errored
      }
    }
    this.layer.releaseRead();
  }

  /** Fatal error: send the alert (if ours), tear down the transport, error both streams. */
  private async fail(error: TlsError, sendAlert: boolean) {
    if (this.failure) return;
    this.failure = error;
    const taken = this.recordTaken; // a write waiting for room fails now
    this.recordTaken = undefined;
    taken?.();
    if (
      sendAlert &&
      error.alert !== undefined &&
      error.code !== 'ERR_TLS_PEER_ALERT' &&
      error.code !== 'ERR_TLS_CLIENT_CERTIFICATE_REFUSED' &&
      error.code !== 'ERR_TLS_TRANSPORT_CLOSED'
    ) {
      await this.layer.sendAlert(error.alert);
    }
    this.layer.abort(error);
    this.readDone = true;
    this.writeDone = true;
    try {
      this.readController.error(error);
    } catch {
      // already closed
    }
  }
}

const closed = () => new TlsClosedError('ERR_TLS_CLOSED', 'connection is closed for writing');
