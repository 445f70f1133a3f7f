import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { encodeMessage, MessageDecoder } from '../channel/codec.ts';
import { ContentType } from '../channel/constants.ts';
import type { Message } from '../channel/message.ts';
import { ZitiConnectionClosedError } from '../errors.ts';
import { FULL_REPORT, XgressEndpoint, type XgressOptions } from './endpoint.ts';
import {
  decodeAck,
  decodePayload,
  type Originator,
  PayloadFlag,
  type XgAck,
  type XgPayload,
} from './messages.ts';

type Action = 'pass' | 'drop' | 'dup' | 'hold';

interface Sent {
  from: Originator;
  msg: Message;
}

/**
 * Two endpoints joined by a fake transport. Every message goes through the channel codec and is
 * delivered in a microtask; `intercept` can drop, duplicate or hold it (held ones are released in
 * any order by `release`).
 */
class Wire {
  readonly log: Sent[] = [];
  readonly held: Sent[] = [];
  intercept: (s: Sent) => Action = () => 'pass';
  readonly ends = {} as Record<Originator, XgressEndpoint>;

  send(from: Originator): (msg: Message) => Promise<void> {
    return async (msg) => {
      const s = { from, msg: new MessageDecoder().push(encodeMessage(msg))[0]! };
      this.log.push(s);
      const action = this.intercept(s);
      if (action === 'drop') return;
      if (action === 'hold') {
        this.held.push(s);
        return;
      }
      this.#deliver(s);
      if (action === 'dup') this.#deliver(s);
    };
  }

  /** Delivers held messages, in the given order of their indexes (default: as held). */
  release(order?: number[]): void {
    const held = [...this.held];
    const picked = order ?? held.map((_, i) => i);
    for (const i of picked) this.#deliver(held[i]!);
    this.held.splice(0, this.held.length, ...held.filter((_, i) => !picked.includes(i)));
  }

  #deliver(s: Sent): void {
    queueMicrotask(() => {
      const to = this.ends[s.from === 'initiator' ? 'terminator' : 'initiator'];
      if (s.msg.contentType === ContentType.XgPayload) to.onPayload(decodePayload(s.msg));
      else to.onAck(decodeAck(s.msg));
    });
  }

  payloads(from: Originator): XgPayload[] {
    return this.log
      .filter((s) => s.from === from && s.msg.contentType === ContentType.XgPayload)
      .map((s) => decodePayload(s.msg));
  }

  acks(from: Originator): XgAck[] {
    return this.log
      .filter((s) => s.from === from && s.msg.contentType === ContentType.XgAcknowledgement)
      .map((s) => decodeAck(s.msg));
  }
}

interface Side {
  ep: XgressEndpoint;
  /** Payloads handed to the reader, in order. */
  got: XgPayload[];
  /** Bytes delivered and not yet taken by the reader (only counted with `slowReader`). */
  unread: number;
  take(n: number): void;
}

/**
 * Unless `defaultAcks`, both ends acknowledge at the end of the task (`ackDelayMs: 0`): most tests
 * are about ordering, windows, retransmission and holding, and with the default 4 ms batching each
 * acknowledgement would need a timer step, and "nothing was acknowledged" could only mean "not yet".
 */
function setup(
  opts: {
    initiator?: XgressOptions;
    terminator?: XgressOptions;
    slowReader?: boolean;
    defaultAcks?: boolean;
  } = {},
) {
  const wire = new Wire();
  const make = (originator: Originator): Side => {
    const side: Side = {
      ep: undefined as unknown as XgressEndpoint,
      got: [],
      unread: 0,
      take(n) {
        side.unread -= n;
        side.ep.readerProgress();
      },
    };
    side.ep = new XgressEndpoint({
      circuitId: 'circuit-1',
      originator,
      send: wire.send(originator),
      deliver: (p) => {
        side.got.push(p);
        if (opts.slowReader) side.unread += p.data.length;
      },
      pendingBytes: () => side.unread,
      options: opts.defaultAcks ? opts[originator] : { ackDelayMs: 0, ...opts[originator] },
      now: () => Date.now(),
    });
    wire.ends[originator] = side.ep;
    return side;
  };
  return { wire, initiator: make('initiator'), terminator: make('terminator') };
}

/** Lets queued microtasks (deliveries, acknowledgement batches) run. */
const settle = () => vi.advanceTimersByTimeAsync(0);
const bytes = (n: number, fill = 0) => new Uint8Array(n).fill(fill);
const seqs = (ps: XgPayload[]) => ps.map((p) => p.sequence);
const acked = (acks: XgAck[]) => acks.flatMap((a) => a.sequences);

/** Tracks whether a promise settled (without awaiting it). */
function track<T>(p: Promise<T>) {
  const t = { done: false, value: undefined as T | undefined, error: undefined as unknown };
  p.then(
    (v) => {
      t.done = true;
      t.value = v;
    },
    (e) => {
      t.done = true;
      t.error = e;
    },
  );
  return t;
}

beforeEach(() => {
  vi.useFakeTimers();
  vi.setSystemTime(1_000_000);
});
afterEach(() => {
  vi.useRealTimers();
});

describe('XgressEndpoint', () => {
  it('delivers in order despite reordering, and everything is acknowledged', async () => {
    const { wire, initiator, terminator } = setup();
    wire.intercept = (s) => (s.from === 'initiator' ? 'hold' : 'pass');
    await initiator.ep.start();
    for (let i = 1; i <= 5; i++) await initiator.ep.write(bytes(10, i));
    expect(wire.held).toHaveLength(6);
    wire.release([5, 3, 4, 1, 2]);
    await settle();
    expect(terminator.got).toHaveLength(0); // seq 0 still missing
    expect(terminator.ep.hasGap).toBe(true);
    expect(wire.held).toHaveLength(1);
    wire.release();
    await settle();
    expect(seqs(terminator.got)).toEqual([0, 1, 2, 3, 4, 5]);
    expect(terminator.got[0]!.flags & PayloadFlag.CircuitStart).toBeTruthy();
    expect(terminator.got.slice(1).map((p) => p.data[0])).toEqual([1, 2, 3, 4, 5]);
    expect(terminator.ep.hasGap).toBe(false);
    expect(initiator.ep.inFlightBytes).toBe(0);
    expect(acked(wire.acks('terminator')).sort()).toEqual([0, 1, 2, 3, 4, 5]);
    // Payloads from the initiator carry no originator flag; the terminator's acks carry it.
    expect(wire.payloads('initiator').every((p) => !(p.flags & PayloadFlag.Originator))).toBe(true);
    expect(wire.acks('terminator').every((a) => a.flags & PayloadFlag.Originator)).toBe(true);
  });

  it('acknowledges duplicates again and delivers them once', async () => {
    const { wire, initiator, terminator } = setup();
    let dropAck = true;
    wire.intercept = (s) => {
      if (s.from === 'initiator') return decodePayload(s.msg).sequence === 1 ? 'dup' : 'pass';
      if (dropAck && acked([decodeAck(s.msg)]).includes(2)) {
        dropAck = false;
        return 'drop'; // the first acknowledgement of seq 2 is lost
      }
      return 'pass';
    };
    await initiator.ep.write(bytes(5, 0));
    await settle();
    await initiator.ep.write(bytes(5, 1));
    await settle();
    await initiator.ep.write(bytes(5, 2));
    await settle();
    expect(initiator.ep.inFlightBytes).toBe(5); // seq 2: its acknowledgement was lost
    await vi.advanceTimersByTimeAsync(600); // retransmitted, seen again, acknowledged again
    expect(seqs(terminator.got)).toEqual([0, 1, 2]);
    expect(terminator.ep.duplicates).toBe(2);
    const all = acked(wire.acks('terminator'));
    expect(all.filter((s) => s === 1)).toHaveLength(2);
    expect(all.filter((s) => s === 2)).toHaveLength(2);
    expect(initiator.ep.inFlightBytes).toBe(0);
  });

  it('retransmits a dropped payload, flagged Retransmit, and delivers it in order', async () => {
    const { wire, initiator, terminator } = setup();
    let dropped = false;
    wire.intercept = (s) => {
      if (s.from !== 'initiator' || dropped || decodePayload(s.msg).sequence !== 1) return 'pass';
      dropped = true;
      return 'drop';
    };
    for (let i = 0; i < 4; i++) await initiator.ep.write(bytes(100, i));
    await settle();
    expect(seqs(terminator.got)).toEqual([0]);
    // The acknowledgements of 0, 2 and 3 measured a round trip of 0 ms: the minimum, 500 ms, applies
    // (checked every 100 ms).
    await vi.advanceTimersByTimeAsync(499);
    expect(initiator.ep.retransmits).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(initiator.ep.retransmits).toBe(1);
    const again = wire.payloads('initiator').filter((p) => p.flags & PayloadFlag.Retransmit);
    expect(seqs(again)).toEqual([1]);
    expect(seqs(terminator.got)).toEqual([0, 1, 2, 3]);
    expect(terminator.got.map((p) => p.data[0])).toEqual([0, 1, 2, 3]);
    expect(initiator.ep.inFlightBytes).toBe(0);
    // Nothing in flight: no more retransmissions.
    await vi.advanceTimersByTimeAsync(1000);
    expect(initiator.ep.retransmits).toBe(1);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('retransmits after 500 ms while no round trip was measured', async () => {
    const { wire, initiator } = setup();
    wire.intercept = (s) => (s.from === 'initiator' ? 'drop' : 'pass');
    await initiator.ep.write(bytes(10));
    await vi.advanceTimersByTimeAsync(499);
    expect(initiator.ep.retransmits).toBe(0);
    await vi.advanceTimersByTimeAsync(1);
    expect(initiator.ep.retransmits).toBe(1);
    initiator.ep.close();
  });

  it('the timeout follows slow round trips (smoothed + 4 × variation), and doubles per resend', async () => {
    const { wire, initiator } = setup();
    // One round trip of 800 ms: timeout 800 + 4 × 400 = 2400 ms.
    wire.intercept = (s) => (s.from === 'initiator' ? 'hold' : 'pass');
    await initiator.ep.write(bytes(10, 0));
    await vi.advanceTimersByTimeAsync(400); // not resent: 500 ms have not passed
    expect(initiator.ep.retransmits).toBe(0);
    await vi.advanceTimersByTimeAsync(400);
    wire.intercept = () => 'pass';
    wire.release();
    await settle();
    expect(initiator.ep.retransmits).toBe(1); // at 500 ms, before the slow acknowledgement came
    expect(initiator.ep.inFlightBytes).toBe(0);
    wire.intercept = (s) => (s.from === 'initiator' ? 'drop' : 'pass');
    await initiator.ep.write(bytes(10, 1));
    await vi.advanceTimersByTimeAsync(2399);
    expect(initiator.ep.retransmits).toBe(1);
    await vi.advanceTimersByTimeAsync(100); // the 100 ms check after the 2400 ms timeout
    expect(initiator.ep.retransmits).toBe(2);
    // The resend was dropped too: the next one waits 4800 ms.
    await vi.advanceTimersByTimeAsync(4700);
    expect(initiator.ep.retransmits).toBe(2);
    await vi.advanceTimersByTimeAsync(200);
    expect(initiator.ep.retransmits).toBe(3);
    initiator.ep.close();
  });

  it('waits while the in-flight bytes fill the window and resumes on acknowledgement', async () => {
    const { wire, initiator, terminator } = setup({ initiator: { windowBytes: 1000 } });
    wire.intercept = (s) => (s.from === 'initiator' ? 'hold' : 'pass');
    await initiator.ep.write(bytes(600));
    await initiator.ep.write(bytes(600)); // 600 < 1000 in flight: goes
    const third = track(initiator.ep.write(bytes(10)));
    await settle();
    expect(third.done).toBe(false);
    expect(initiator.ep.inFlightBytes).toBe(1200);
    wire.intercept = () => 'pass';
    wire.release();
    await settle();
    expect(third.done).toBe(true);
    expect(third.error).toBeUndefined();
    await settle();
    expect(seqs(terminator.got)).toEqual([0, 1, 2]);
    expect(initiator.ep.inFlightBytes).toBe(0);
  });

  it('stops while the peer reports more than the remote window unread, resumes on a window update', async () => {
    const { wire, initiator, terminator } = setup({
      initiator: { remoteWindowBytes: 20_000 },
      slowReader: true,
    });
    // Seq 0 is acknowledged with 30 000 unread; seq 1 still goes (nothing in flight) and is then
    // delayed on the wire.
    wire.intercept = (s) =>
      s.from === 'initiator' && decodePayload(s.msg).sequence === 1 ? 'hold' : 'pass';
    await initiator.ep.write(bytes(30_000));
    await settle();
    expect(wire.acks('terminator').at(-1)!.recvBufferSize).toBe(30_000);
    expect(initiator.ep.inFlightBytes).toBe(0);
    await initiator.ep.write(bytes(10));
    await settle();
    expect(wire.held).toHaveLength(1);
    const third = track(initiator.ep.write(bytes(10)));
    await settle();
    expect(third.done).toBe(false); // seq 1 in flight and 30 000 > 20 000 unread
    terminator.take(30_000); // the reader took it: an empty acknowledgement reports 0
    await settle();
    const update = wire.acks('terminator').filter((a) => a.sequences.length === 0);
    expect(update).toEqual([expect.objectContaining({ recvBufferSize: 0 })]);
    expect(third.done).toBe(true);
    expect(wire.held).toHaveLength(1); // resumed although seq 1 is still unacknowledged
  });

  it('does not send a window update for small buffers or before the reader took half', async () => {
    const { wire, initiator, terminator } = setup({ slowReader: true });
    await initiator.ep.write(bytes(30_000));
    await settle();
    const before = wire.acks('terminator').length;
    terminator.take(10_000); // 20 000 left: not half of 30 000
    await settle();
    expect(wire.acks('terminator')).toHaveLength(before);
    terminator.take(5_001);
    await settle();
    expect(wire.acks('terminator')).toHaveLength(before + 1);
  });

  it('past the receive limit holds one acknowledgement, keeps later payloads, releases at half', async () => {
    const limit = 10_000;
    const { wire, initiator, terminator } = setup({
      terminator: { receiveLimitBytes: limit },
      slowReader: true,
    });
    // Sent in one go: the report of a full buffer then stops a fifth.
    await Promise.all([0, 1, 2, 3].map((i) => initiator.ep.write(bytes(4_000, i))));
    await settle();
    // 12 000 > 10 000 at seq 2: its acknowledgement waits; seq 3 is kept and acknowledged.
    expect(seqs(terminator.got)).toEqual([0, 1, 2, 3]);
    expect(terminator.ep.held).toBe(1);
    const acks = wire.acks('terminator');
    expect(acked(acks).sort()).toEqual([0, 1, 3]);
    const afterHold = acks.slice(acks.findIndex((a) => a.sequences.length === 0));
    expect(afterHold.length).toBeGreaterThan(0);
    expect(afterHold.every((a) => a.recvBufferSize === FULL_REPORT)).toBe(true);
    expect(initiator.ep.inFlightBytes).toBe(4_000);

    // The sender stops: one payload unacknowledged and the remote window exceeded.
    const next = track(initiator.ep.write(bytes(4_000, 4)));
    await vi.advanceTimersByTimeAsync(1_000);
    expect(next.done).toBe(false);
    // Seq 2 is retransmitted meanwhile, recognised as a duplicate and still not acknowledged.
    expect(initiator.ep.retransmits).toBeGreaterThan(0);
    expect(terminator.ep.duplicates).toBe(initiator.ep.retransmits);
    expect(acked(wire.acks('terminator'))).not.toContain(2);
    expect(seqs(terminator.got)).toEqual([0, 1, 2, 3]);

    terminator.take(8_000); // 8 000 left: more than half the limit
    await settle();
    expect(acked(wire.acks('terminator'))).not.toContain(2);
    terminator.take(3_000); // 5 000: half the limit
    await settle();
    const release = wire.acks('terminator').find((a) => a.sequences.includes(2))!;
    expect(release).toMatchObject({ sequences: [2], recvBufferSize: 5_000 });
    expect(next.done).toBe(true);
    await settle();
    expect(seqs(terminator.got)).toEqual([0, 1, 2, 3, 4]);
    expect(terminator.ep.held).toBe(1);
  });

  it('releases the held acknowledgement even when another acknowledgement is queued', async () => {
    const limit = 10_000;
    const { wire, initiator, terminator } = setup({
      terminator: { receiveLimitBytes: limit },
      slowReader: true,
    });
    wire.intercept = (s) =>
      s.from === 'initiator' && decodePayload(s.msg).sequence === 3 ? 'hold' : 'pass';
    // Sent in one go: the report of a full buffer then stops a fifth.
    await Promise.all([0, 1, 2, 3].map((i) => initiator.ep.write(bytes(4_000, i))));
    await settle();
    expect(terminator.ep.held).toBe(1);
    // Seq 3 arrives and the reader takes everything in the same task, before its acknowledgement
    // went out: the reader then waits, and nothing else would call readerProgress again.
    wire.release();
    await Promise.resolve();
    expect(seqs(terminator.got)).toEqual([0, 1, 2, 3]);
    terminator.take(terminator.unread);
    await settle();
    expect(acked(wire.acks('terminator'))).toContain(2);
    expect(initiator.ep.inFlightBytes).toBe(0);
    expect(wire.acks('terminator').at(-1)!.recvBufferSize).toBe(0);
  });

  it('flushed() resolves true once all is acknowledged, false on timeout or close', async () => {
    const { wire, initiator } = setup();
    expect(await initiator.ep.flushed(10)).toBe(true); // nothing sent
    wire.intercept = (s) => (s.from === 'terminator' ? 'hold' : 'pass');
    await initiator.ep.write(bytes(10));
    const ok = track(initiator.ep.flushed(5_000));
    await settle();
    expect(ok.done).toBe(false);
    wire.intercept = () => 'pass';
    wire.release();
    await settle();
    expect(ok.value).toBe(true);

    wire.intercept = (s) => (s.from === 'initiator' ? 'drop' : 'pass');
    await initiator.ep.write(bytes(10));
    const late = track(initiator.ep.flushed(500));
    await vi.advanceTimersByTimeAsync(499);
    expect(late.done).toBe(false);
    await vi.advanceTimersByTimeAsync(1);
    expect(late.value).toBe(false);

    const closing = track(initiator.ep.flushed(5_000));
    initiator.ep.close();
    await settle();
    expect(closing.value).toBe(false);
    expect(await initiator.ep.flushed(10)).toBe(false);
  });

  it('close() fails waiting writes, stops timers and ignores later messages', async () => {
    const { wire, initiator, terminator } = setup({ initiator: { windowBytes: 100 } });
    wire.intercept = (s) => (s.from === 'initiator' ? 'drop' : 'pass');
    await initiator.ep.write(bytes(100));
    const waiting = track(initiator.ep.write(bytes(1)));
    await settle();
    expect(waiting.done).toBe(false);
    expect(vi.getTimerCount()).toBe(1); // the retransmission timer
    initiator.ep.close();
    await settle();
    expect(waiting.error).toBeInstanceOf(ZitiConnectionClosedError);
    expect(initiator.ep.closed).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
    const sent = wire.log.length;
    await vi.advanceTimersByTimeAsync(2_000);
    expect(wire.log).toHaveLength(sent); // no retransmission after close
    await expect(initiator.ep.write(bytes(1))).rejects.toBeInstanceOf(ZitiConnectionClosedError);
    await expect(initiator.ep.sendControl(PayloadFlag.EOF)).rejects.toBeInstanceOf(
      ZitiConnectionClosedError,
    );
    // A payload arriving after close is neither delivered nor acknowledged.
    wire.intercept = () => 'pass';
    await terminator.ep.write(bytes(5));
    await settle();
    expect(initiator.got).toHaveLength(0);
    expect(wire.acks('initiator')).toHaveLength(0);
  });

  it('ignores a payload carrying its own originator flag', async () => {
    const { wire, terminator } = setup();
    terminator.ep.onPayload({
      circuitId: 'circuit-1',
      sequence: 0,
      flags: PayloadFlag.Originator, // sent by a terminator: our own payload come back
      rtt: 1,
      headers: new Map(),
      data: bytes(3),
    });
    await settle();
    expect(terminator.got).toHaveLength(0);
    expect(wire.log).toHaveLength(0);
  });

  it('with ackDelayMs 0, acknowledges several payloads of one task in one message', async () => {
    const { wire, terminator } = setup();
    for (const sequence of [0, 1, 2]) {
      terminator.ep.onPayload({
        circuitId: 'circuit-1',
        sequence,
        flags: 0,
        rtt: 77,
        headers: new Map(),
        data: bytes(3),
      });
    }
    await settle();
    expect(seqs(terminator.got)).toEqual([0, 1, 2]);
    const acks = wire.acks('terminator');
    expect(acks).toHaveLength(1);
    expect(acks[0]).toMatchObject({ sequences: [0, 1, 2], rtt: 77, circuitId: 'circuit-1' });
  });

  describe('with the default options', () => {
    const MiB = 1024 * 1024;
    const payload = (sequence: number, rtt = 1): XgPayload => ({
      circuitId: 'circuit-1',
      sequence,
      flags: 0,
      rtt,
      headers: new Map(),
      data: bytes(3),
    });

    it('acknowledges payloads of separate tasks together, 4 ms after the first', async () => {
      const { wire, terminator } = setup({ defaultAcks: true });
      terminator.ep.onPayload(payload(0));
      await vi.advanceTimersByTimeAsync(2);
      terminator.ep.onPayload(payload(1));
      await vi.advanceTimersByTimeAsync(1);
      terminator.ep.onPayload(payload(2));
      await vi.advanceTimersByTimeAsync(0);
      // Delivered at once; only the acknowledgement waits.
      expect(seqs(terminator.got)).toEqual([0, 1, 2]);
      expect(wire.acks('terminator')).toHaveLength(0);
      await vi.advanceTimersByTimeAsync(1);
      expect(wire.acks('terminator')).toEqual([expect.objectContaining({ sequences: [0, 1, 2] })]);
      // The next payload starts a new batch.
      terminator.ep.onPayload(payload(3));
      await vi.advanceTimersByTimeAsync(3);
      expect(wire.acks('terminator')).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(acked(wire.acks('terminator'))).toEqual([0, 1, 2, 3]);
      expect(wire.acks('terminator')).toHaveLength(2);
    });

    it('close() drops a waiting acknowledgement and its timer', async () => {
      const { wire, terminator } = setup({ defaultAcks: true });
      terminator.ep.onPayload(payload(0));
      expect(vi.getTimerCount()).toBe(1);
      terminator.ep.close();
      expect(vi.getTimerCount()).toBe(0);
      await vi.advanceTimersByTimeAsync(10);
      expect(wire.log).toHaveLength(0);
    });

    it('acknowledges 16 waiting payloads at once', async () => {
      const { wire, terminator } = setup({ defaultAcks: true });
      for (let i = 0; i < 15; i++) terminator.ep.onPayload(payload(i));
      expect(wire.acks('terminator')).toHaveLength(0);
      terminator.ep.onPayload(payload(15));
      // Sent within the call, and the batch timer is gone.
      const first = Array.from({ length: 16 }, (_, i) => i);
      expect(wire.acks('terminator')).toEqual([expect.objectContaining({ sequences: first })]);
      expect(vi.getTimerCount()).toBe(0);
      terminator.ep.onPayload(payload(16));
      await vi.advanceTimersByTimeAsync(3);
      expect(wire.acks('terminator')).toHaveLength(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(wire.acks('terminator').at(-1)).toMatchObject({ sequences: [16] });
    });

    it("echoes the RTT stamp of the batch's oldest payload", async () => {
      const { wire, initiator, terminator } = setup({ defaultAcks: true });
      await initiator.ep.write(bytes(5, 0));
      await vi.advanceTimersByTimeAsync(1);
      await initiator.ep.write(bytes(5, 1));
      await vi.advanceTimersByTimeAsync(2);
      await initiator.ep.write(bytes(5, 2));
      await vi.advanceTimersByTimeAsync(1);
      expect(seqs(terminator.got)).toEqual([0, 1, 2]);
      const stamps = wire.payloads('initiator').map((p) => p.rtt);
      expect(new Set(stamps).size).toBe(3);
      // One acknowledgement, carrying the first payload's stamp: the sender's round trip then
      // includes the 4 ms the acknowledgement waited.
      expect(wire.acks('terminator')).toEqual([
        expect.objectContaining({ sequences: [0, 1, 2], rtt: stamps[0] }),
      ]);
      expect(initiator.ep.inFlightBytes).toBe(0);
    });

    it('stops while the reported buffer plus the bytes in flight exceed the remote window', async () => {
      const { wire, initiator, terminator } = setup({ defaultAcks: true, slowReader: true });
      await initiator.ep.write(bytes(3 * MiB));
      await vi.advanceTimersByTimeAsync(4);
      expect(wire.acks('terminator').at(-1)).toMatchObject({
        sequences: [0],
        recvBufferSize: 3 * MiB,
      });
      expect(initiator.ep.inFlightBytes).toBe(0);

      // 3 MiB reported: 1 MiB more may be in flight.
      wire.intercept = (s) => (s.from === 'initiator' ? 'hold' : 'pass');
      await initiator.ep.write(bytes(MiB / 2)); // seq 1
      await initiator.ep.write(bytes(MiB / 2)); // seq 2: 3.5 MiB
      const third = track(initiator.ep.write(bytes(1))); // seq 3: exactly 4 MiB, not over
      await vi.advanceTimersByTimeAsync(0);
      expect(third.done).toBe(true);
      const fourth = track(initiator.ep.write(bytes(1)));
      await vi.advanceTimersByTimeAsync(0);
      expect(fourth.done).toBe(false); // 4 MiB + 1 byte
      expect(initiator.ep.inFlightBytes).toBe(MiB + 1);

      // The reader takes 1 MiB (too little for a window update); seq 1 arrives and its
      // acknowledgement reports 2.5 MiB: 2.5 + 0.5 MiB still in flight fits again.
      terminator.take(MiB);
      await vi.advanceTimersByTimeAsync(0);
      expect(wire.acks('terminator')).toHaveLength(1);
      wire.release([0]);
      await vi.advanceTimersByTimeAsync(3);
      expect(fourth.done).toBe(false);
      await vi.advanceTimersByTimeAsync(1);
      expect(wire.acks('terminator').at(-1)).toMatchObject({
        sequences: [1],
        recvBufferSize: 2.5 * MiB,
      });
      expect(fourth.done).toBe(true);
      expect(fourth.error).toBeUndefined();
      expect(initiator.ep.inFlightBytes).toBe(MiB / 2 + 2); // seqs 2, 3, 4

      // 1 MiB more fits (2.5 + 1.5 MiB + 2 bytes then); one byte more does not, until the reader
      // took everything and a window update reports an empty buffer.
      await initiator.ep.write(bytes(MiB)); // seq 5
      const sixth = track(initiator.ep.write(bytes(1)));
      await vi.advanceTimersByTimeAsync(0);
      expect(sixth.done).toBe(false);
      terminator.take(terminator.unread);
      await vi.advanceTimersByTimeAsync(0);
      expect(wire.acks('terminator').at(-1)).toMatchObject({ sequences: [], recvBufferSize: 0 });
      expect(sixth.done).toBe(true);
      expect(sixth.error).toBeUndefined();
      // Resumed with seqs 2 to 5 still unacknowledged.
      expect(initiator.ep.inFlightBytes).toBe(1.5 * MiB + 3);
      expect(initiator.ep.retransmits).toBe(0);
      initiator.ep.close();
    });

    it('checks for retransmission at half the retransmission interval once a round trip was measured', async () => {
      // With a 100 ms minimum (the default is 500 ms, whose check interval stays at 100 ms).
      const { wire, initiator } = setup({ defaultAcks: true, initiator: { retransmitMinMs: 100 } });
      await initiator.ep.write(bytes(10));
      // Acknowledged after the 4 ms batching delay: a round trip of 4 ms, so the minimum of 100 ms
      // applies and the check runs every 50 ms.
      await vi.advanceTimersByTimeAsync(4);
      expect(initiator.ep.inFlightBytes).toBe(0);
      wire.intercept = (s) => (s.from === 'initiator' ? 'drop' : 'pass');
      await initiator.ep.write(bytes(10, 1)); // seq 1 at T
      await vi.advanceTimersByTimeAsync(30);
      await initiator.ep.write(bytes(10, 2)); // seq 2 at T + 30
      await vi.advanceTimersByTimeAsync(69);
      expect(initiator.ep.retransmits).toBe(0);
      await vi.advanceTimersByTimeAsync(1); // T + 100
      expect(initiator.ep.retransmits).toBe(1);
      // Seq 2 is due at T + 130 and goes at the check after, T + 150: 120 ms after it was sent
      // (with a check every 100 ms it would wait until T + 200).
      await vi.advanceTimersByTimeAsync(49);
      expect(initiator.ep.retransmits).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(initiator.ep.retransmits).toBe(2);
      const again = wire.payloads('initiator').filter((p) => p.flags & PayloadFlag.Retransmit);
      expect(seqs(again)).toEqual([1, 2]);
      initiator.ep.close();
    });
  });
});
