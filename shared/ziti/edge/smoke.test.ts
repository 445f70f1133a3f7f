import { describe, expect, it } from 'vitest';
import { channelPair, readAll } from '../_test/fixtures.ts';
import { ContentType } from '../channel/constants.ts';
import { acceptConnect } from './accept.ts';
import { dialService } from './dial.ts';

describe('smoke', () => {
  it('dials, exchanges encrypted data both ways, half-closes', async () => {
    const { client, router } = await channelPair();
    router.handle(ContentType.Connect, (msg) => {
      void (async () => {
        const conn = await acceptConnect(router, msg, { circuitId: 'c1' });
        const data = await readAll(conn.readable);
        const w = conn.writable.getWriter();
        await w.write(new TextEncoder().encode(`echo:${new TextDecoder().decode(data)}`));
        await w.close();
      })();
    });
    const conn = await dialService(client, { sessionToken: 'tok', encryptionRequired: true });
    expect(conn.encrypted).toBe(true);
    expect(conn.circuitId).toBe('c1');
    const w = conn.writable.getWriter();
    await w.write(new TextEncoder().encode('hello'));
    await w.close();
    const got = await readAll(conn.readable);
    expect(new TextDecoder().decode(got)).toBe('echo:hello');
    await client.close();
  });
});
