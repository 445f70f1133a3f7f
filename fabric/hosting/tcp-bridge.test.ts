import { connect, createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import {
  clientSessionKeys,
  EdgeFlag,
  e2eReady,
  generateKxKeyPair,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  serverSessionKeys,
} from '../../shared/ziti/index.ts';
import { TcpBridge } from './tcp-bridge.ts';

type Sent = { kind: 'data'; body: Uint8Array; flags: number } | { kind: 'close'; reason: string };

/** A TCP app that writes `payload` and ends at once; the bridge dials it. */
async function appThatWritesAndEnds(payload: Buffer): Promise<{ socket: Socket; close(): void }> {
  const server = createServer((s) => s.end(payload));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const socket = connect((server.address() as { port: number }).port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  return { socket, close: () => server.close() };
}

describe('TcpBridge', () => {
  it('sends every data part before FIN and StateClosed, even when sends are slow', async () => {
    const payload = Buffer.alloc(200_000, 7);
    const app = await appThatWritesAndEnds(payload);
    const sent: Sent[] = [];
    const bridge = new TcpBridge({
      socket: app.socket,
      sender: {
        async sendData(body, flags = 0) {
          await new Promise((r) => setTimeout(r, 3));
          sent.push({ kind: 'data', body, flags });
        },
        async sendClose(reason) {
          sent.push({ kind: 'close', reason });
        },
      },
    });
    const ended = new Promise<void>((r) => {
      const check = setInterval(() => {
        if (sent.some((s) => s.kind === 'close')) {
          clearInterval(check);
          r();
        }
      }, 5);
    });
    await bridge.start();
    await ended;
    app.close();
    const kinds = sent.map((s) =>
      s.kind === 'close' ? 'close' : s.flags & EdgeFlag.FIN ? 'fin' : 'data',
    );
    expect(kinds.slice(-2)).toEqual(['fin', 'close']);
    expect(kinds.filter((k) => k === 'fin')).toHaveLength(1);
    const data = sent.filter(
      (s): s is Extract<Sent, { kind: 'data' }> => s.kind === 'data' && s.flags === 0,
    );
    expect(Buffer.concat(data.map((d) => d.body)).equals(payload)).toBe(true);
    expect(Math.max(...data.map((d) => d.body.length))).toBeLessThanOrEqual(32 * 1024);
  });

  it('as E2E server: header first, sealed parts the dialer can open, FIN unencrypted', async () => {
    await e2eReady();
    const payload = Buffer.from('hello from the dark '.repeat(5000));
    const app = await appThatWritesAndEnds(payload);
    const dialer = await generateKxKeyPair();
    const host = await generateKxKeyPair();
    const hostKeys = await serverSessionKeys(host, dialer.publicKey);
    const sent: Sent[] = [];
    let closed = false;
    const bridge = new TcpBridge({
      socket: app.socket,
      sender: {
        async sendData(body, flags = 0) {
          sent.push({ kind: 'data', body, flags });
        },
        async sendClose(reason) {
          closed = true;
          sent.push({ kind: 'close', reason });
        },
      },
      e2e: hostKeys,
    });
    await bridge.start();
    while (!closed) await new Promise((r) => setTimeout(r, 5));
    app.close();
    const keys = await clientSessionKeys(dialer, host.publicKey);
    const datas = sent.filter((s): s is Extract<Sent, { kind: 'data' }> => s.kind === 'data');
    expect(datas[0]!.body).toHaveLength(24);
    const dec = new SecretStreamDecryptor(datas[0]!.body, keys.rx);
    const fin = datas.at(-1)!;
    expect(fin.flags).toBe(EdgeFlag.FIN);
    expect(fin.body).toHaveLength(0);
    const plain = datas.slice(1, -1).map((d) => dec.pull(d.body));
    expect(Buffer.concat(plain).equals(payload)).toBe(true);

    // And the other direction: the dialer's header, then sealed data, reach the app in order.
    const enc = new SecretStreamEncryptor(keys.tx);
    const received: Buffer[] = [];
    const server = createServer((s) => s.on('data', (d) => received.push(d)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const sock = connect((server.address() as { port: number }).port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    const b2 = new TcpBridge({
      socket: sock,
      sender: { sendData: async () => {}, sendClose: async () => {} },
      e2e: hostKeys,
    });
    await b2.start();
    await b2.onData(enc.header, 0);
    await b2.onData(enc.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 0);
    await expect(b2.onData(new Uint8Array(40), 0)).rejects.toThrow();
    while (received.length === 0) await new Promise((r) => setTimeout(r, 5));
    expect(Buffer.concat(received).toString()).toBe('GET / HTTP/1.1\r\n\r\n');
    b2.close('done');
    server.close();
  });
});
