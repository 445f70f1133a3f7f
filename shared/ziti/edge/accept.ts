/**
 * Router side of a Connect for a router-hosted terminator (reference §3.5, last paragraph): the
 * router answers StateConnected with its own per-circuit key and acts as the E2E server. The far
 * side of a dial in tests and benchmarks; the dev fabric's router and tunneler build their
 * messages with the builders in messages.ts instead.
 */
import type { Channel } from '../channel/channel.ts';
import type { Message } from '../channel/message.ts';
import { generateKxKeyPair, serverSessionKeys } from '../e2e/sodium.ts';
import { type StructuredError, ZitiDialError } from '../errors.ts';
import { EdgeConnectionImpl } from './connection.ts';
import { decodeConnect, encodeStateClosed, encodeStateConnected } from './messages.ts';
import { EdgeMux } from './mux.ts';
import type { EdgeConnection, ReceiveOverflowPolicy } from './types.ts';

export interface AcceptConnectOptions {
  circuitId?: string;
  receiveWindowBytes?: number;
  receiveOverflow?: ReceiveOverflowPolicy;
}

/**
 * Accepts a Connect received on `channel`: replies StateConnected (with our key when the Connect
 * carried one) and returns the connection, E2E header already sent.
 */
export async function acceptConnect(
  channel: Channel,
  connect: Message,
  options: AcceptConnectOptions = {},
): Promise<EdgeConnection> {
  const request = decodeConnect(connect);
  const mux = EdgeMux.of(channel);
  if (mux.has(request.connId)) {
    // A client reusing a live id: refuse this Connect, keep the channel and the other connection.
    const reason = `connection id ${request.connId} is already in use`;
    await channel.reply(connect, encodeStateClosed({ connId: request.connId, reason }));
    throw new ZitiDialError(reason);
  }
  const keyPair = request.publicKey ? await generateKxKeyPair() : undefined;
  const conn = new EdgeConnectionImpl(channel, mux, {
    connId: request.connId,
    receiveWindowBytes: options.receiveWindowBytes,
    receiveOverflow: options.receiveOverflow,
    appData: request.appData,
    callerId: request.callerId,
    circuitId: options.circuitId,
  });
  await channel.reply(
    connect,
    encodeStateConnected({
      connId: request.connId,
      circuitId: options.circuitId,
      publicKey: keyPair?.publicKey,
    }),
  );
  const keys =
    keyPair && request.publicKey ? await serverSessionKeys(keyPair, request.publicKey) : undefined;
  await conn.establish(keys);
  return conn;
}

/** Refuses a Connect with StateClosed (ErrorCode + StructuredError, reference §3.4). */
export async function rejectConnect(
  channel: Channel,
  connect: Message,
  refusal: { reason: string; errorCode?: number; structuredError?: StructuredError },
): Promise<void> {
  const request = decodeConnect(connect);
  await channel.reply(connect, encodeStateClosed({ connId: request.connId, ...refusal }));
}
