import { describe, expect, it, vi } from 'vitest';
import { CaTrust, openTrusted, sameBundle } from './ca-trust.ts';

const A = '-----BEGIN CERTIFICATE-----\nA\n-----END CERTIFICATE-----';
const B = '-----BEGIN CERTIFICATE-----\nB\n-----END CERTIFICATE-----';
const EVIL = '-----BEGIN CERTIFICATE-----\nEVIL\n-----END CERTIFICATE-----';

/** A connection record: which anchors it was opened with and whether it was closed. */
const opener = (fail?: (anchors: string[]) => boolean) => {
  const opened: { anchors: string[]; closed: boolean }[] = [];
  const open = vi.fn(async (anchors: string[]) => {
    if (fail?.(anchors)) throw new Error(`handshake failed with ${anchors.length} anchors`);
    const conn = {
      anchors,
      closed: false,
      close: async () => {
        conn.closed = true;
      },
    };
    opened.push(conn);
    return conn;
  });
  return { open, opened };
};

describe('sameBundle', () => {
  it('ignores order, duplicates and surrounding whitespace', () => {
    expect(sameBundle([A, B], [`${B}\n`, A, A])).toBe(true);
    expect(sameBundle([A], [A, B])).toBe(false);
    expect(sameBundle([A], [EVIL])).toBe(false);
  });
});

describe('CaTrust', () => {
  it('asks the controller once, and again after a failure', async () => {
    const fetch = vi
      .fn<() => Promise<string[]>>()
      .mockRejectedValueOnce(new Error('controller down'))
      .mockResolvedValue([A]);
    const trust = new CaTrust(fetch, [B]);
    expect(trust.candidate()).toEqual([B]);
    await expect(trust.confirmed()).rejects.toThrow('controller down');
    expect(await trust.confirmed()).toEqual([A]);
    expect(await trust.confirmed()).toEqual([A]);
    expect(fetch).toHaveBeenCalledTimes(2);
    expect(trust.candidate()).toEqual([A]);
  });

  it('has no candidate without a kept bundle', () => {
    expect(new CaTrust(async () => [A], []).candidate()).toBeUndefined();
    expect(new CaTrust(async () => [A]).candidate()).toBeUndefined();
  });
});

describe('openTrusted', () => {
  it('keeps the connection opened with a kept bundle the controller confirms', async () => {
    const { open, opened } = opener();
    const conn = await openTrusted(new CaTrust(async () => [A], [A]), open);
    expect(conn.anchors).toEqual([A]);
    expect(opened).toHaveLength(1);
    expect(conn.closed).toBe(false);
  });

  it('starts the handshake before the controller answers', async () => {
    const { open } = opener();
    let answer!: (bundle: string[]) => void;
    const trust = new CaTrust(() => new Promise<string[]>((r) => (answer = r)), [A]);
    const result = openTrusted(trust, open);
    await Promise.resolve();
    expect(open).toHaveBeenCalledWith([A]);
    answer([A]);
    expect((await result).anchors).toEqual([A]);
  });

  it('never hands out a connection made with a rewritten bundle: closes it, opens with the controller one', async () => {
    const { open, opened } = opener();
    const conn = await openTrusted(new CaTrust(async () => [A], [EVIL]), open);
    expect(opened.map((c) => [c.anchors, c.closed])).toEqual([
      [[EVIL], true],
      [[A], false],
    ]);
    expect(conn.anchors).toEqual([A]);
  });

  it('tries the controller bundle when the kept one fails the handshake (a new CA)', async () => {
    const { open } = opener((anchors) => anchors.includes(B));
    const conn = await openTrusted(new CaTrust(async () => [A], [B]), open);
    expect(conn.anchors).toEqual([A]);
  });

  it('fails closed when the controller cannot be asked, closing what it opened', async () => {
    const { open, opened } = opener();
    const trust = new CaTrust(async () => {
      throw new Error('controller down');
    }, [A]);
    await expect(openTrusted(trust, open)).rejects.toThrow('controller down');
    expect(opened.map((c) => c.closed)).toEqual([true]);
  });

  it('waits for the controller when nothing was kept', async () => {
    const { open } = opener();
    const conn = await openTrusted(new CaTrust(async () => [A]), open);
    expect(open).toHaveBeenCalledTimes(1);
    expect(conn.anchors).toEqual([A]);
  });

  it('passes on the handshake error when the confirmed bundle fails too', async () => {
    const { open } = opener(() => true);
    await expect(openTrusted(new CaTrust(async () => [A], [A]), open)).rejects.toThrow(
      'handshake failed',
    );
  });
});
