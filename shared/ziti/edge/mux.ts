/**
 * Routes edge messages of one channel to their connection by ConnId (reference §3.4: many
 * connections multiplexed on one channel). One mux per channel, made on first use. It installs the
 * channel handlers for Data, StateConnected, StateClosed, Dial, BindSuccess and the xgress payloads
 * and acknowledgements of flow-controlled connections; replies to our own
 * requests (Connect → StateConnected / StateClosed) are matched by the channel before they get here.
 * A router that relays connections registers one sink per ConnId the same way.
 */
import type { Channel, ChannelCloseInfo } from '../channel/channel.ts';
import { ContentType, HeaderId, ROUTER_CONN_ID_START } from '../channel/constants.ts';
import { getHeaderU32, type Message } from '../channel/message.ts';

/** Receives the messages of one ConnId. A returned promise pauses the channel's read loop. */
export interface EdgeSink {
  onMessage(msg: Message): void | Promise<void>;
  /** The channel closed: every connection ends. */
  onChannelClosed(info: ChannelCloseInfo): void;
}

const ROUTED = [
  ContentType.Data,
  ContentType.StateConnected,
  ContentType.StateClosed,
  ContentType.Dial,
  ContentType.BindSuccess,
  ContentType.XgPayload,
  ContentType.XgAcknowledgement,
] as const;

const muxes = new WeakMap<Channel, EdgeMux>();

export class EdgeMux {
  readonly channel: Channel;
  readonly #sinks = new Map<number, EdgeSink>();
  #nextId = 1;

  /** The mux of `channel`, created (and its handlers installed) on first call. */
  static of(channel: Channel): EdgeMux {
    let mux = muxes.get(channel);
    if (!mux) {
      mux = new EdgeMux(channel);
      muxes.set(channel, mux);
    }
    return mux;
  }

  private constructor(channel: Channel) {
    this.channel = channel;
    for (const ct of ROUTED) channel.handle(ct, (msg) => this.#route(msg));
    channel.onClose((info) => {
      const sinks = [...this.#sinks.values()];
      this.#sinks.clear();
      for (const sink of sinks) sink.onChannelClosed(info);
    });
  }

  /** Number of registered connections (and bindings). */
  get size(): number {
    return this.#sinks.size;
  }

  /** A free client-side connection id in 1 … 2^31-2 (router-assigned ids start at 2^31-1). */
  nextConnId(): number {
    for (;;) {
      const id = this.#nextId;
      this.#nextId = id + 1 >= ROUTER_CONN_ID_START ? 1 : id + 1;
      if (!this.#sinks.has(id)) return id;
    }
  }

  has(connId: number): boolean {
    return this.#sinks.has(connId);
  }

  register(connId: number, sink: EdgeSink): void {
    if (this.#sinks.has(connId)) throw new Error(`connection id ${connId} is in use`);
    this.#sinks.set(connId, sink);
  }

  unregister(connId: number, sink?: EdgeSink): void {
    if (!sink || this.#sinks.get(connId) === sink) this.#sinks.delete(connId);
  }

  #route(msg: Message): void | Promise<void> {
    let connId: number | undefined;
    try {
      connId = getHeaderU32(msg, HeaderId.ConnId);
    } catch {
      return; // malformed ConnId: no connection to blame, drop it
    }
    if (connId === undefined) return;
    // Messages for unknown ids (a connection already closed here) are dropped, as the SDKs do.
    return this.#sinks.get(connId)?.onMessage(msg);
  }
}
