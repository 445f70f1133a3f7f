/** Test helpers: a client and a router channel joined in memory. */
import { duplexPair } from '../../streams/pair.ts';
import type { Channel } from '../channel/channel.ts';
import {
  type AcceptChannelOptions,
  acceptChannel,
  type OpenChannelOptions,
  openChannel,
} from '../channel/hello.ts';

export async function channelPair(
  client: Partial<OpenChannelOptions> = {},
  router: AcceptChannelOptions = {},
  highWaterMarkBytes?: number,
): Promise<{ client: Channel; router: Channel }> {
  const [a, b] = duplexPair({ highWaterMarkBytes });
  const [c, r] = await Promise.all([
    openChannel(a, { sessionToken: 'api-session', latencyIntervalMs: 0, ...client }),
    acceptChannel(b, router),
  ]);
  return { client: c, router: r };
}

export function hex(s: string): Uint8Array {
  const clean = s.replace(/\s+/g, '');
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(clean.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function toHex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

export async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const reader = readable.getReader();
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    chunks.push(value);
  }
  reader.releaseLock();
  return concat(chunks);
}

/** The parts joined into one array. */
export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}
