/**
 * Client dial (reference §3.4): register the connection, send Connect (with our X25519 key when
 * the service requires encryption, and asking for SDK flow control when `flowControl` is set),
 * wait for StateConnected or StateClosed, then start E2E. A router that grants flow control (v1.7
 * and later) carries the bytes as xgress payloads with acknowledgements and windows; otherwise, and
 * by default, the bytes go as Data.
 */
import type { Channel } from '../channel/channel.ts';
import { ContentType } from '../channel/constants.ts';
import { clientSessionKeys, generateKxKeyPair } from '../e2e/sodium.ts';
import { ZitiDialError, ZitiE2EError, ZitiError, ZitiProtocolError } from '../errors.ts';
import { EdgeConnectionImpl } from './connection.ts';
import {
  decodeStateClosed,
  decodeStateConnected,
  encodeConnect,
  encodeStateClosed,
} from './messages.ts';
import { EdgeMux } from './mux.ts';
import type { DialOptions, EdgeConnection } from './types.ts';

export const DEFAULT_CONNECT_TIMEOUT_MS = 15_000;

/** Dials a service over `channel`; resolves once the circuit is up (and E2E keys are set). */
export async function dialService(channel: Channel, options: DialOptions): Promise<EdgeConnection> {
  const keyPair = options.encryptionRequired ? await generateKxKeyPair() : undefined;
  const mux = EdgeMux.of(channel);
  const connId = mux.nextConnId();
  // Registered before Connect: the far side's first Data may follow StateConnected at once.
  const conn = new EdgeConnectionImpl(channel, mux, {
    connId,
    receiveWindowBytes: options.receiveWindowBytes,
    receiveOverflow: options.receiveOverflow,
  });
  const appData =
    options.appData === undefined || options.appData instanceof Uint8Array
      ? options.appData
      : JSON.stringify(options.appData);
  const connect = encodeConnect({
    connId,
    seq: 0,
    sessionToken: options.sessionToken,
    appData,
    publicKey: keyPair?.publicKey,
    callerId: options.callerId,
    terminatorIdentity: options.terminatorIdentity,
    useXgressToSdk: options.flowControl ?? false,
  });

  let reply: Awaited<ReturnType<Channel['request']>>;
  try {
    reply = await channel.request(connect, options.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS);
  } catch (err) {
    // A late StateConnected must not leave a circuit open at the router.
    channel.send(encodeStateClosed({ connId, reason: 'dial abandoned' })).catch(() => {});
    conn.abandon(err instanceof ZitiError ? err : new ZitiDialError(String(err)));
    throw err;
  }

  try {
    if (reply.contentType === ContentType.StateClosed) {
      const closed = decodeStateClosed(reply);
      throw new ZitiDialError(
        closed.reason || 'dial refused',
        closed.errorCode,
        closed.structuredError,
      );
    }
    if (reply.contentType !== ContentType.StateConnected) {
      throw new ZitiProtocolError(
        'unexpected-message',
        `Connect answered with content type ${reply.contentType}`,
      );
    }
    const connected = decodeStateConnected(reply);
    if (keyPair && !connected.publicKey) {
      // Fail closed: Go would continue unencrypted; a router that drops the terminator's key could
      // then read the traffic.
      channel
        .send(encodeStateClosed({ connId, seq: 1, reason: 'no terminator public key' }))
        .catch(() => {});
      throw new ZitiE2EError(
        'service requires encryption but the router returned no terminator PublicKey',
      );
    }
    const keys =
      keyPair && connected.publicKey
        ? await clientSessionKeys(keyPair, connected.publicKey)
        : undefined;
    await conn.establish(keys, connected.circuitId, connected.xgress, options.flowControlOptions);
  } catch (err) {
    conn.abandon(err as ZitiError);
    throw err;
  }
  return conn;
}
