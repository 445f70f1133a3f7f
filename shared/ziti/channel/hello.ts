/**
 * The hello handshake (reference §2.4). Client: `openChannel` sends Hello (seq -1, SessionToken,
 * optional CallerId, no grouping headers) and waits for the Result; `startChannel` lets requests
 * follow the hello without waiting (the channel reads the Result itself). Router: `acceptChannel`
 * reads the hello under the hello limits, ACKs it first and validates afterwards, closing on
 * failure, as the real router does for ungrouped connections, and binds handlers before reading on.
 */
import type { ByteDuplex } from '../../streams/duplex.ts';
import {
  ZitiAuthenticationError,
  ZitiChannelClosedError,
  ZitiError,
  ZitiHelloRejectedError,
  ZitiProtocolError,
  ZitiTimeoutError,
} from '../errors.ts';
import { Channel, type ChannelOptions } from './channel.ts';
import { encodeMessage, MessageDecoder } from './codec.ts';
import { ContentType, HELLO_SEQUENCE, HeaderId, MAGIC_UNKNOWN_VERSION } from './constants.ts';
import {
  type Message,
  newMessage,
  setHeaderBool,
  setHeaderI32,
  setHeaderString,
  setHeaderU64,
  stringBytes,
} from './message.ts';

export const DEFAULT_HELLO_TIMEOUT_MS = 10_000;

/** The client hello: seq -1, SessionToken, optional CallerId and trace UUID, empty body. */
export function encodeHello(p: {
  sessionToken: string;
  callerId?: string;
  uuid?: Uint8Array;
}): Message {
  const hello = newMessage(ContentType.Hello);
  hello.sequence = HELLO_SEQUENCE;
  setHeaderString(hello, HeaderId.SessionToken, p.sessionToken);
  if (p.callerId !== undefined) setHeaderString(hello, HeaderId.CallerId, p.callerId);
  if (p.uuid !== undefined) hello.headers.set(HeaderId.UUID, p.uuid);
  return hello;
}

/**
 * The router's answer to a hello: Result, seq -1 (BrowZer matches on it), ReplyFor, ResultSuccess,
 * and the hello's header 128 reflected, as every reply carries it (reference §2.2).
 */
export function encodeHelloResult(p: {
  connectionId: string;
  replyFor: number;
  /** The hello's Reflected header (128), if it had one. */
  reflected?: Uint8Array;
  success: boolean;
  headers?: Map<number, Uint8Array>;
  rejectClass?: string;
  message?: string;
}): Message {
  const result = newMessage(ContentType.Result);
  result.sequence = HELLO_SEQUENCE;
  setHeaderString(result, HeaderId.ConnectionId, p.connectionId);
  setHeaderI32(result, HeaderId.ReplyFor, p.replyFor);
  setHeaderBool(result, HeaderId.ResultSuccess, p.success);
  if (p.reflected !== undefined) result.headers.set(HeaderId.Reflected, p.reflected);
  for (const [id, value] of p.headers ?? []) result.headers.set(id, value);
  if (p.rejectClass !== undefined)
    setHeaderString(result, HeaderId.HelloRejectClass, p.rejectClass);
  if (p.message) result.body = stringBytes(p.message);
  return result;
}

export interface OpenChannelOptions extends ChannelOptions {
  /** API session token (legacy UUID or OIDC access JWT): hello header 1002. */
  sessionToken: string;
  /** Hello header 1008; BrowZer sends "ws:". */
  callerId?: string;
  helloTimeoutMs?: number;
  maxFrameBytes?: number;
  /**
   * Send one latency probe right behind the hello and wait for its answer before resolving. The
   * router validates the session only after the ACK, and reads the probe only once it passed, so
   * this turns a rejected token or certificate into a `ZitiAuthenticationError` from
   * `openChannel` instead of a later close. Sent without waiting for the Result, it costs no
   * round trip of its own. Default true.
   */
  verifySession?: boolean;
}

/** The sequence of the probe that `openChannel` sends behind its hello: the channel's first. */
const PROBE_SEQUENCE = 1;

/** Client side: Hello (and the session probe) → Result, then a `Channel`. */
export function openChannel(transport: ByteDuplex, options: OpenChannelOptions): Promise<Channel> {
  return startChannel(transport, options).opened;
}

/**
 * Client side, without waiting: writes the hello (and the session probe) and returns the channel
 * at once, so that requests can follow the hello on the wire instead of waiting a round trip for
 * its Result. The router reads them only once the hello passed its session check (§2.4), so a
 * request that a refused session sends is never acted on: it fails with the channel. `opened`
 * settles as `openChannel` does: with the channel once the hello (and the probe) were answered,
 * or with the typed reason it was not (the channel then closed).
 */
export function startChannel(
  transport: ByteDuplex,
  options: OpenChannelOptions,
): { channel: Channel; opened: Promise<Channel> } {
  const helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const verify = options.verifySession ?? true;
  const preamble = [encodeHello(options)];
  const sentAt = Date.now();
  if (verify) {
    const probe = newMessage(ContentType.Latency);
    probe.sequence = PROBE_SEQUENCE;
    setHeaderU64(probe, HeaderId.Reflected, BigInt(sentAt) * 1_000_000n);
    preamble.push(probe);
  }
  const channel = new Channel({
    ...options,
    transport,
    reader: transport.readable.getReader(),
    writer: transport.writable.getWriter(),
    decoder: new MessageDecoder({ maxFrameBytes: options.maxFrameBytes }),
    backlog: [],
    hello: { preamble, helloTimeoutMs },
    ...(verify ? { sequence: PROBE_SEQUENCE } : {}),
  });
  // Claimed before yielding, so that its answer is never dispatched unclaimed.
  const probeReply = verify ? channel.replyTo(PROBE_SEQUENCE, helloTimeoutMs) : undefined;
  probeReply?.catch(() => {}); // a hello that fails reports that instead

  const opened = (async () => {
    try {
      await channel.answered;
    } catch (err) {
      throw typed(err);
    }
    if (!probeReply) return channel;
    try {
      await probeReply;
      channel.recordLatency(Date.now() - sentAt);
      return channel;
    } catch (err) {
      const info = await Promise.race([channel.closed, Promise.resolve(undefined)]);
      await channel.close();
      if (info?.error instanceof ZitiAuthenticationError) throw info.error;
      if (err instanceof ZitiChannelClosedError) {
        throw new ZitiAuthenticationError('router closed the channel after the hello', {
          cause: err,
        });
      }
      throw err;
    }
  })();
  opened.catch(() => {}); // reported to whoever awaits it; the channel is closed either way
  return { channel, opened };
}

/** What the router answers to a hello. */
export type HelloDecision =
  | { accept: true; headers?: Map<number, Uint8Array>; message?: string }
  | { accept: false; message: string; rejectClass?: string };

export interface AcceptChannelOptions extends ChannelOptions {
  /** ConnectionId header (0) of the Result; default a random UUID. */
  connectionId?: string;
  /** Decides the Result; default accept. Extra headers go into the Result. */
  onHello?: (hello: Message) => HelloDecision | Promise<HelloDecision>;
  /**
   * Runs after the ACK is written (reference §2.4.3). If it throws, the channel is closed and
   * `acceptChannel` rejects with that error. No message is dispatched before it passes.
   */
  validateAfterAck?: (hello: Message) => void | Promise<void>;
  /**
   * Installs the channel's handlers before its first message after the hello is dispatched: a
   * client may send requests right behind its hello, and they may arrive in the hello's read.
   */
  bind?: (channel: Channel) => void;
  helloTimeoutMs?: number;
  maxFrameBytes?: number;
}

/** Router side: read the hello, write the Result, validate, then a `Channel`. */
export async function acceptChannel(
  transport: ByteDuplex,
  options: AcceptChannelOptions = {},
): Promise<Channel> {
  const helloTimeoutMs = options.helloTimeoutMs ?? DEFAULT_HELLO_TIMEOUT_MS;
  const reader = transport.readable.getReader();
  const writer = transport.writable.getWriter();
  const decoder = new MessageDecoder({ maxFrameBytes: options.maxFrameBytes });
  const backlog: Message[] = [];
  const connectionId = options.connectionId ?? crypto.randomUUID();
  const abort = async (err: Error) => {
    await writer.close().catch(() => {});
    reader.cancel(err).catch(() => {});
  };

  let hello: Message;
  let validating = false;
  try {
    const first = await withTimeout(readOne(reader, decoder, backlog), helloTimeoutMs, 'hello');
    if (!first) throw new ZitiChannelClosedError('client closed the transport before its hello');
    if (first.contentType !== ContentType.Hello) {
      throw new ZitiProtocolError(
        'unexpected-message',
        `expected a hello, got content type ${first.contentType}`,
      );
    }
    hello = first;
    const decision = (await options.onHello?.(hello)) ?? { accept: true };
    const result = encodeHelloResult({
      connectionId,
      replyFor: hello.sequence,
      reflected: hello.headers.get(HeaderId.Reflected),
      success: decision.accept,
      headers: decision.accept ? decision.headers : undefined,
      rejectClass: decision.accept ? undefined : decision.rejectClass,
      message: decision.message,
    });
    await writer.write(encodeMessage(result));
    if (!decision.accept) throw new ZitiHelloRejectedError(decision.message);
    validating = true;
    await options.validateAfterAck?.(hello);
  } catch (err) {
    if (err instanceof ZitiProtocolError && err.fault === 'bad-magic') {
      // WriteUnknownVersionResponse: magic 03 06 09 0a, then u32 count 2, versions 1 and 2.
      const reply = new Uint8Array(16);
      reply.set(MAGIC_UNKNOWN_VERSION);
      const view = new DataView(reply.buffer);
      view.setUint32(4, 2, true);
      view.setUint32(8, 1, true);
      view.setUint32(12, 2, true);
      await writer.write(reply).catch(() => {});
    }
    await abort(err as Error);
    throw validating ? err : typed(err); // the validator's own error goes back unchanged
  }

  return new Channel({
    latencyIntervalMs: 0,
    ...options,
    transport,
    reader,
    writer,
    decoder,
    backlog,
    connectionId,
    peerHello: hello,
  });
}

async function readOne(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  decoder: MessageDecoder,
  backlog: Message[],
): Promise<Message | undefined> {
  while (backlog.length === 0) {
    const { value, done } = await reader.read();
    if (done) return undefined;
    backlog.push(...decoder.push(value));
  }
  return backlog.shift();
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new ZitiTimeoutError(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Transport failures during the handshake become ZitiChannelClosedError (cause kept). */
function typed(err: unknown): Error {
  return err instanceof ZitiError
    ? err
    : new ZitiChannelClosedError('transport failed during the hello', { cause: err });
}
