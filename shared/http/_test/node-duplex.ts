/** Test helper: a Node socket as a ByteDuplex, and dialers for loopback servers. */
import { connect, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import type { ByteDuplex } from '../../streams/duplex.ts';

export type ClosableDuplex = ByteDuplex & { close(): void; socket: Socket };

export function socketDuplex(socket: Socket): ClosableDuplex {
  const web = Duplex.toWeb(socket) as unknown as ByteDuplex;
  return { readable: web.readable, writable: web.writable, close: () => socket.destroy(), socket };
}

export function dialer(port: number, counter?: { dials: number }): () => Promise<ClosableDuplex> {
  return () =>
    new Promise((resolve, reject) => {
      const s = connect(port, '127.0.0.1');
      s.once('connect', () => {
        if (counter) counter.dials++;
        resolve(socketDuplex(s));
      });
      s.once('error', reject);
    });
}

export async function readAll(stream: ReadableStream<Uint8Array> | null): Promise<Uint8Array> {
  if (!stream) return new Uint8Array(0);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of stream as unknown as AsyncIterable<Uint8Array>) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
