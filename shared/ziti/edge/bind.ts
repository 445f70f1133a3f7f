/**
 * Hosting side (reference §3.5): Bind, then answer each Dial with DialSuccess (or DialFailed) and
 * act as E2E server with the listener's one keypair. Accepted connections queue in a bounded
 * backlog until `accept()` takes them.
 */
import type { Channel, ChannelCloseInfo } from '../channel/channel.ts';
import { ContentType, EdgeErrorCode, HeaderId } from '../channel/constants.ts';
import { i32Bytes, type Message } from '../channel/message.ts';
import { generateKxKeyPair, type KxKeyPair, serverSessionKeys } from '../e2e/sodium.ts';
import { ZitiBindError, ZitiChannelClosedError, ZitiError, ZitiProtocolError } from '../errors.ts';
import { EdgeConnectionImpl } from './connection.ts';
import {
  decodeDial,
  encodeBind,
  encodeDialFailed,
  encodeDialSuccess,
  encodeUnbind,
} from './hosting-messages.ts';
import { decodeStateClosed } from './messages.ts';
import { EdgeMux, type EdgeSink } from './mux.ts';
import type { BindOptions, EdgeCloseInfo, EdgeConnection, EdgeListener } from './types.ts';

export const DEFAULT_BIND_TIMEOUT_MS = 15_000;
export const DEFAULT_ACCEPT_BACKLOG = 64;

/** Hosts a service on `channel`; resolves once the router answered the Bind with StateConnected. */
export async function bindService(channel: Channel, options: BindOptions): Promise<EdgeListener> {
  const keyPair = options.encryption ? await generateKxKeyPair() : undefined;
  const mux = EdgeMux.of(channel);
  const listener = new Listener(channel, mux, mux.nextConnId(), options, keyPair);
  const bind = encodeBind({
    connId: listener.connId,
    sessionToken: options.sessionToken,
    publicKey: keyPair?.publicKey,
    cost: options.cost,
    precedence: options.precedence,
    terminatorIdentity: options.terminatorIdentity,
    listenerId: options.listenerId,
  });
  let reply: Message;
  try {
    reply = await channel.request(bind, options.bindTimeoutMs ?? DEFAULT_BIND_TIMEOUT_MS);
    if (reply.contentType === ContentType.StateClosed) {
      const closed = decodeStateClosed(reply);
      throw new ZitiBindError(closed.reason || 'bind refused', closed.errorCode);
    }
    if (reply.contentType !== ContentType.StateConnected) {
      throw new ZitiProtocolError('unexpected-message', `Bind answered with ${reply.contentType}`);
    }
  } catch (err) {
    listener.end({ initiator: 'error', reason: (err as Error).message, error: err as Error });
    throw err;
  }
  return listener;
}

class Listener implements EdgeListener, EdgeSink {
  readonly connId: number;
  readonly bound: Promise<void>;
  readonly closed: Promise<EdgeCloseInfo>;
  readonly #channel: Channel;
  readonly #mux: EdgeMux;
  readonly #options: BindOptions;
  readonly #keyPair: KxKeyPair | undefined;
  readonly #backlog: EdgeConnection[] = [];
  readonly #waiters: { resolve: (c: EdgeConnection) => void; reject: (e: Error) => void }[] = [];
  #resolveBound!: () => void;
  #rejectBound!: (e: Error) => void;
  #resolveClosed!: (info: EdgeCloseInfo) => void;
  #closeInfo: EdgeCloseInfo | undefined;
  #pendingDials = 0;

  constructor(
    channel: Channel,
    mux: EdgeMux,
    connId: number,
    options: BindOptions,
    keyPair: KxKeyPair | undefined,
  ) {
    this.#channel = channel;
    this.#mux = mux;
    this.connId = connId;
    this.#options = options;
    this.#keyPair = keyPair;
    this.bound = new Promise((resolve, reject) => {
      this.#resolveBound = resolve;
      this.#rejectBound = reject;
    });
    this.bound.catch(() => {});
    this.closed = new Promise((resolve) => {
      this.#resolveClosed = resolve;
    });
    mux.register(connId, this);
  }

  accept(): Promise<EdgeConnection> {
    const ready = this.#backlog.shift();
    if (ready) return Promise.resolve(ready);
    if (this.#closeInfo) return Promise.reject(this.#closedError());
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  async *[Symbol.asyncIterator](): AsyncIterator<EdgeConnection> {
    for (;;) {
      try {
        yield await this.accept();
      } catch (err) {
        if (this.#closeInfo) return;
        throw err;
      }
    }
  }

  async close(): Promise<void> {
    if (!this.#closeInfo) {
      this.#channel
        .send(encodeUnbind({ connId: this.connId, sessionToken: this.#options.sessionToken }))
        .catch(() => {});
      this.end({ initiator: 'local', reason: 'unbound' });
    }
    await this.closed;
  }

  onMessage(msg: Message): void {
    if (this.#closeInfo) return;
    switch (msg.contentType) {
      case ContentType.BindSuccess:
        this.#resolveBound();
        return;
      case ContentType.StateClosed: {
        let reason = 'binding closed by router';
        let errorCode: number | undefined;
        try {
          const closed = decodeStateClosed(msg);
          reason = closed.reason || reason;
          errorCode = closed.errorCode;
        } catch {}
        this.end({ initiator: 'remote', reason, error: new ZitiBindError(reason, errorCode) });
        return;
      }
      case ContentType.Dial:
        // Not awaited: a legacy dial waits for a reply that this read loop must deliver.
        void this.#onDial(msg);
        return;
    }
  }

  onChannelClosed(info: ChannelCloseInfo): void {
    this.end({
      initiator: 'channel',
      reason: 'channel closed',
      error: new ZitiChannelClosedError('channel closed', { cause: info.error }),
    });
  }

  end(info: EdgeCloseInfo): void {
    if (this.#closeInfo) return;
    this.#closeInfo = info;
    this.#mux.unregister(this.connId, this);
    this.#rejectBound(this.#closedError());
    for (const w of this.#waiters.splice(0)) w.reject(this.#closedError());
    this.#resolveClosed(info);
  }

  async #onDial(msg: Message): Promise<void> {
    const refuse = (reason: string) =>
      this.#channel.reply(msg, encodeDialFailed({ connId: this.connId, reason })).catch(() => {});
    let dial: ReturnType<typeof decodeDial>;
    try {
      dial = decodeDial(msg);
    } catch (err) {
      return refuse((err as Error).message);
    }
    if (dial.sessionToken !== this.#options.sessionToken) return refuse('invalid session token');
    if (this.#keyPair && !dial.publicKey) {
      return refuse(`encryption data missing (error ${EdgeErrorCode.EncryptionDataMissing})`);
    }
    const backlog = this.#options.backlog ?? DEFAULT_ACCEPT_BACKLOG;
    if (this.#backlog.length + this.#pendingDials >= backlog)
      return refuse('listener backlog full');
    // Legacy routers assign no id: we pick one and wait for StateConnected to our DialSuccess.
    const legacy = dial.newConnId === undefined;
    const connId = dial.newConnId ?? this.#mux.nextConnId();
    this.#pendingDials++;
    let conn: EdgeConnectionImpl | undefined;
    try {
      conn = new EdgeConnectionImpl(this.#channel, this.#mux, {
        connId,
        receiveWindowBytes: this.#options.receiveWindowBytes,
        receiveOverflow: this.#options.receiveOverflow,
        appData: dial.appData,
        callerId: dial.callerId,
        circuitId: dial.circuitId,
      });
      const success = encodeDialSuccess({ connId: this.connId, newConnId: connId });
      if (legacy) {
        const reply = await this.#channel.request(
          { ...success, headers: withReplyFor(success, msg) },
          this.#options.bindTimeoutMs ?? DEFAULT_BIND_TIMEOUT_MS,
        );
        if (reply.contentType !== ContentType.StateConnected) {
          throw new ZitiBindError('router did not confirm the dial');
        }
      } else {
        await this.#channel.reply(msg, success);
      }
      const keys =
        this.#keyPair && dial.publicKey
          ? await serverSessionKeys(this.#keyPair, dial.publicKey)
          : undefined;
      await conn.establish(keys);
    } catch (err) {
      conn?.abandon(err instanceof ZitiError ? err : new ZitiBindError(String(err)));
      if (!conn) refuse((err as Error).message);
      return;
    } finally {
      this.#pendingDials--;
    }
    const waiter = this.#waiters.shift();
    if (waiter) waiter.resolve(conn);
    else this.#backlog.push(conn);
  }

  #closedError(): Error {
    return (
      this.#closeInfo?.error ?? new ZitiBindError(`listener closed: ${this.#closeInfo?.reason}`)
    );
  }
}

function withReplyFor(msg: Message, request: Message): Map<number, Uint8Array> {
  const headers = new Map(msg.headers);
  headers.set(HeaderId.ReplyFor, i32Bytes(request.sequence));
  return headers;
}
