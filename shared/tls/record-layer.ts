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
  MAX_PLAINTEXT,
  RECORD_HEADER_LENGTH,
} from './constants.ts';
import { TlsClosedError, TlsError, TlsIntegrityError, TlsProtocolError } from './errors.ts';
import { nextTrafficSecret, type SuiteParams, trafficKeys } from './keyschedule.ts';
import { encodeAlert } from './messages.ts';
import {
  decodeInnerPlaintext,
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

/** Called once per record: with no argument when the transport took it, else with why not. */
export type RecordSent = (error?: unknown) => void;

interface OutgoingRecord {
  parts?: Uint8Array[];
  error?: unknown;
  sent: RecordSent;
}

const SLAB_SIZE = 1 << 18;
/** Where a batch starts in its buffer (see `allocate`). */
const BATCH_OFFSET = 64;

/** Largest transport write we assemble from finished records. */
const MAX_WRITE_BATCH = 4 * (MAX_CIPHERTEXT + RECORD_HEADER_LENGTH);

export class RecordLayer {
  readonly records = new RecordReader();
  read?: Epoch;
  write?: Epoch;
  eof = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;
  private readonly writer: WritableStreamDefaultWriter<Uint8Array>;
  private readonly outgoing: OutgoingRecord[] = [];
  private readonly innerScratch = new Uint8Array(MAX_PLAINTEXT + 1);
  private slab = new Uint8Array(0);
  private slabUsed = 0;
  private readonly reuseWrites: boolean;
  private pumping = false;
  /** Records queued, and records settled (written or failed; in order), for `flush()`. */
  private queued = 0;
  private settled = 0;
  private flushWaiters: { upTo: number; resolve(): void }[] = [];
  private writeError?: unknown;
  private transportClosed = false;

  constructor(transport: ByteDuplex) {
    this.reuseWrites = transport.writesCopied === true;
    this.reader = transport.readable.getReader();
    this.writer = transport.writable.getWriter();
    // Failures surface through the promises of write(); this keeps closed() quiet.
    this.writer.closed.catch(() => {});
  }

  /** Reads one transport chunk into the record parser; false at end of stream. */
  fill(): Promise<boolean> {
    if (this.eof) return Promise.resolve(false);
    // One reaction per chunk (not an async function's): the router sends each record alone.
    return this.reader.read().then(
      ({ value, done }) => {
        if (done) {
          this.eof = true;
          return false;
        }
        this.records.push(value);
        return true;
      },
      (cause) => {
        this.eof = true;
        throw new TlsClosedError('ERR_TLS_TRANSPORT_CLOSED', 'transport failed', { cause });
      },
    );
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
    return new Promise((resolve, reject) => {
      const sent: RecordSent = (error) => (error === undefined ? resolve() : reject(error));
      if (!this.write) {
        this.enqueue([encodePlaintextRecord(type, content)], sent);
        return;
      }
      // TLSInnerPlaintext is built in a reused buffer: seal() has read it when it returns.
      const inner = this.innerScratch.subarray(0, content.length + 1);
      inner.set(content);
      inner[content.length] = type;
      this.sendInner(inner, sent);
    });
  }

  /**
   * Sends a record from its TLSInnerPlaintext (content, then the type byte, no padding) built by
   * the caller, with the current write epoch: the way to send without copying the content again.
   * `inner` has been read when this returns; `sent` is called once the transport took the record.
   * A callback rather than a promise: the application data path sends a record per 16 KiB, and
   * each promise and reaction on it costs microseconds in browsers (2 µs and more in Firefox).
   */
  sendInner(inner: Uint8Array, sent: RecordSent): void {
    const epoch = this.write;
    if (!epoch) throw new TlsError('ERR_TLS_INTERNAL', 'sendInner before the write keys are set');
    const header = encodeRecordHeader(ContentType.applicationData, inner.length + AEAD_TAG_LENGTH);
    const sealing = epoch.cipher.seal(epoch.seq++, header, inner); // a throw queues nothing
    const entry = this.enqueue(undefined, sent);
    sealing.then(
      (sealed) => {
        entry.parts = [header, sealed];
        this.pumpOutgoing();
      },
      (error) => {
        entry.error = error ?? new TlsError('ERR_TLS_INTERNAL', 'record encryption failed');
        this.pumpOutgoing();
      },
    );
  }

  /** Sends bytes already framed (the first ClientHello uses legacy version 0x0301). */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return new Promise((resolve, reject) =>
      this.enqueue([bytes], (error) => (error === undefined ? resolve() : reject(error))),
    );
  }

  /** Queues a record in sequence order; its bytes are `parts`, or set once it is encrypted. */
  private enqueue(parts: Uint8Array[] | undefined, sent: RecordSent): OutgoingRecord {
    const entry: OutgoingRecord = { parts, sent };
    this.outgoing.push(entry);
    this.queued++;
    if (parts) this.pumpOutgoing();
    return entry;
  }

  /** Reports a batch of records written or failed, and wakes the flushes they complete. */
  private settle(batch: OutgoingRecord[], error?: unknown) {
    for (const e of batch) e.sent(error);
    this.settled += batch.length;
    if (this.flushWaiters.length === 0) return;
    const waiting = this.flushWaiters;
    this.flushWaiters = [];
    for (const w of waiting) {
      if (w.upTo <= this.settled) w.resolve();
      else this.flushWaiters.push(w);
    }
  }

  /**
   * Writes finished records in order. While one transport write is outstanding, records that
   * finish encrypting gather up and go out together as one write (one WebSocket message), which
   * costs one copy instead of a message per record.
   */
  private pumpOutgoing() {
    if (this.pumping) return;
    this.pumping = true;
    void (async () => {
      try {
        for (;;) {
          const batch: OutgoingRecord[] = [];
          let size = 0;
          while (size < MAX_WRITE_BATCH) {
            const head = this.outgoing[0];
            if (!head || (head.parts === undefined && head.error === undefined)) break;
            this.outgoing.shift();
            if (head.error !== undefined) this.writeError ??= head.error;
            batch.push(head);
            for (const p of head.parts ?? []) size += p.length;
          }
          if (batch.length === 0) return;
          if (this.writeError === undefined && this.transportClosed) {
            this.writeError = transportClosed('for writing');
          }
          if (this.writeError !== undefined) {
            this.settle(batch, this.writeError);
            continue;
          }
          const bytes = this.allocate(size);
          let offset = 0;
          for (const e of batch) {
            for (const p of e.parts!) {
              bytes.set(p, offset);
              offset += p.length;
            }
          }
          try {
            await this.writer.write(bytes);
          } catch (cause) {
            this.writeError ??= new TlsClosedError(
              'ERR_TLS_TRANSPORT_CLOSED',
              'transport write failed',
              { cause },
            );
            this.settle(batch, this.writeError);
            continue;
          }
          this.settle(batch);
        }
      } finally {
        this.pumping = false;
      }
    })();
  }

  /**
   * The buffer of the next transport write. Freshly allocated memory is slow to fill (in browsers a
   * 16 KiB copy into a new buffer costs 4 to 12 µs, into one already written 0.3 µs: about half
   * the record's encryption), so a transport that copies its writes gets the same buffer every
   * time: the pump writes one batch at a time and waits for it. Any other transport may hold on to
   * a write, so its writes are carved from slabs that are never reused (one allocation per slab,
   * not per write), freed once every write cut from one is gone.
   *
   * Either way a batch starts BATCH_OFFSET bytes into its buffer. WebCrypto's results start on a
   * page boundary, and a copy whose destination lies 1 to 15 bytes past its source modulo 4 KiB
   * runs 15 to 25 times slower on x86 (loads falsely wait on the stores before them, "4K
   * aliasing": 7 µs against 0.3 µs per 16 KiB in Chromium and Firefox here). At offset 0 every
   * batch's first ciphertext would land there, 5 bytes in, behind its record header.
   */
  private allocate(size: number): Uint8Array {
    if (this.reuseWrites) {
      if (BATCH_OFFSET + size > this.slab.length) {
        this.slab = new Uint8Array(BATCH_OFFSET + Math.max(MAX_WRITE_BATCH * 2, size));
      }
      return this.slab.subarray(BATCH_OFFSET, BATCH_OFFSET + size);
    }
    if (this.slabUsed + size > this.slab.length) {
      this.slab = new Uint8Array(BATCH_OFFSET + Math.max(SLAB_SIZE, size));
      this.slabUsed = BATCH_OFFSET;
    }
    const out = this.slab.subarray(this.slabUsed, this.slabUsed + size);
    this.slabUsed += size;
    return out;
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

  /** Waits until every record sent so far reached the transport (or failed). */
  flush(): Promise<void> {
    if (this.settled === this.queued) return Promise.resolve();
    return new Promise((resolve) => this.flushWaiters.push({ upTo: this.queued, resolve }));
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
