/**
 * Test client: an OpenZiti client built from shared/ziti (codec, channel, edge messages, e2e) with
 * Node's `tls` for the inner TLS, over the router's WebSocket or `tls:` listener. It dials like
 * the browser client does (Connect with PublicKey, header first, then sealed Data).
 */
import { isIP } from 'node:net';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { createWebSocketStream, WebSocket } from 'ws';
import type { ByteDuplex } from '../../shared/streams/duplex.ts';
import {
  type Channel,
  ContentType,
  clientSessionKeys,
  decodeData,
  decodeStateClosed,
  decodeStateConnected,
  EdgeFlag,
  e2eReady,
  encodeConnect,
  encodeData,
  encodeStateClosed,
  generateKxKeyPair,
  type KxKeyPair,
  MAX_DATA_BODY_BYTES,
  type Message,
  openChannel,
  SecretStreamDecryptor,
  SecretStreamEncryptor,
  type SessionKeys,
  type StateClosedInfo,
} from '../../shared/ziti/index.ts';
import { nodeSocketDuplex } from '../_internal/node-duplex.ts';

/** SNI only for DNS names (RFC 6066). */
function sni(host: string): string | undefined {
  return isIP(host.replace(/^\[|\]$/g, '')) ? undefined : host;
}

export interface ClientCreds {
  certChainPem?: string;
  keyPem?: string;
  caPem: string;
}

/**
 * Opens the inner TLS (optionally over a WebSocket at `${wsUrl}/ws`; for `wss:` the outer TLS is
 * verified with the same fabric CA; `onMessage` sees each message the router sends) and returns
 * the socket.
 */
export async function connectInnerTls(
  target: { wsUrl: string; onMessage?: (data: Buffer) => void } | { tlsUrl: string },
  creds: ClientCreds,
): Promise<TLSSocket> {
  const base = {
    key: creds.keyPem,
    cert: creds.certChainPem,
    ca: creds.caPem,
    minVersion: 'TLSv1.2' as const,
  };
  let sock: TLSSocket;
  if ('wsUrl' in target) {
    const ws = new WebSocket(`${target.wsUrl}/ws`, { ca: creds.caPem });
    if (target.onMessage) ws.on('message', target.onMessage);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const stream = createWebSocketStream(ws);
    stream.on('error', () => {});
    sock = tlsConnect({
      ...base,
      socket: stream,
      servername: sni(new URL(target.wsUrl).hostname),
    });
  } else {
    const u = new URL(target.tlsUrl.replace(/^tls:/, 'http:'));
    sock = tlsConnect({
      ...base,
      host: u.hostname,
      port: Number(u.port),
      servername: sni(u.hostname),
    });
  }
  await new Promise<void>((resolve, reject) => {
    sock.once('secureConnect', () => resolve());
    sock.once('error', reject);
  });
  return sock;
}

export function socketDuplex(sock: TLSSocket): ByteDuplex {
  return nodeSocketDuplex(sock);
}

export async function openClientChannel(
  target: Parameters<typeof connectInnerTls>[0],
  creds: ClientCreds,
  sessionToken: string,
): Promise<{ channel: Channel; socket: TLSSocket }> {
  const socket = await connectInnerTls(target, creds);
  const channel = await openChannel(socketDuplex(socket), {
    sessionToken,
    callerId: 'ws:',
    latencyIntervalMs: 0,
  });
  return { channel, socket };
}

export interface TestConnection {
  connId: number;
  circuitId: string | undefined;
  encrypted: boolean;
  write(bytes: Uint8Array): Promise<void>;
  closeWrite(): Promise<void>;
  close(): Promise<void>;
  /** Resolves at FIN or StateClosed. */
  ended: Promise<{ fin: boolean; closed?: StateClosedInfo }>;
}

/** Per-channel dispatch of Data / StateClosed to test connections. */
class Mux {
  readonly conns = new Map<
    number,
    { onData(m: Message): Promise<void> | void; onClosed(i: StateClosedInfo): void }
  >();
  constructor(channel: Channel) {
    channel.handle(ContentType.Data, (m) => this.conns.get(decodeData(m).connId)?.onData(m));
    channel.handle(ContentType.StateClosed, (m) => {
      const info = decodeStateClosed(m);
      this.conns.get(info.connId)?.onClosed(info);
    });
  }
}
const muxes = new WeakMap<Channel, Mux>();
let nextConnId = 1;

export class DialRefusedError extends Error {
  constructor(readonly info: StateClosedInfo) {
    super(`dial refused: ${info.reason} (error code ${info.errorCode})`);
  }
}

/** Dials with Connect as the browser client does; `onData` gets plaintext in order. */
export async function dial(
  channel: Channel,
  opts: {
    sessionToken: string;
    encrypt: boolean;
    onData: (bytes: Uint8Array) => void | Promise<void>;
    appData?: Record<string, string>;
  },
): Promise<TestConnection> {
  await e2eReady();
  let mux = muxes.get(channel);
  if (!mux) {
    mux = new Mux(channel);
    muxes.set(channel, mux);
  }
  const connId = nextConnId++;
  const own: KxKeyPair | undefined = opts.encrypt ? await generateKxKeyPair() : undefined;
  // The far side's header may arrive while the session keys are still being derived.
  let keysReady!: (keys: SessionKeys | undefined) => void;
  const keys = new Promise<SessionKeys | undefined>((r) => {
    keysReady = r;
  });
  let decryptor: SecretStreamDecryptor | undefined;
  let encryptor: SecretStreamEncryptor | undefined;
  let endResolve!: (v: { fin: boolean; closed?: StateClosedInfo }) => void;
  const ended = new Promise<{ fin: boolean; closed?: StateClosedInfo }>((r) => {
    endResolve = r;
  });
  mux.conns.set(connId, {
    async onData(m) {
      const d = decodeData(m);
      if (d.flags & EdgeFlag.FIN) return endResolve({ fin: true });
      const rx = (await keys)?.rx;
      if (rx) {
        if (!decryptor) {
          decryptor = new SecretStreamDecryptor(d.body, rx);
          return;
        }
        await opts.onData(decryptor.pull(d.body));
      } else await opts.onData(d.body);
    },
    onClosed(info) {
      endResolve({ fin: false, closed: info });
    },
  });
  const reply = await channel.request(
    encodeConnect({
      connId,
      sessionToken: opts.sessionToken,
      publicKey: own?.publicKey,
      appData: opts.appData ? JSON.stringify(opts.appData) : undefined,
      seq: 0,
    }),
  );
  if (reply.contentType === ContentType.StateClosed) {
    keysReady(undefined);
    mux.conns.delete(connId);
    throw new DialRefusedError(decodeStateClosed(reply));
  }
  const sc = decodeStateConnected(reply);
  const sessionKeys = own && sc.publicKey ? await clientSessionKeys(own, sc.publicKey) : undefined;
  keysReady(sessionKeys);
  if (sessionKeys) {
    encryptor = new SecretStreamEncryptor(sessionKeys.tx);
    await channel.send(encodeData({ connId, body: encryptor.header }));
  }
  return {
    connId,
    circuitId: sc.circuitId,
    encrypted: encryptor !== undefined,
    async write(bytes) {
      for (let at = 0; at < bytes.length; at += MAX_DATA_BODY_BYTES) {
        const part = bytes.subarray(at, at + MAX_DATA_BODY_BYTES);
        await channel.send(encodeData({ connId, body: encryptor ? encryptor.push(part) : part }));
      }
    },
    closeWrite: () => channel.send(encodeData({ connId, flags: EdgeFlag.FIN })),
    async close() {
      mux.conns.delete(connId);
      await channel.send(encodeStateClosed({ connId, reason: 'done' })).catch(() => {});
    },
    ended,
  };
}
