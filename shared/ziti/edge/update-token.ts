/**
 * OIDC sessions: replace the channel's access token before it expires (reference §3.3). The new
 * JWT must carry the same `z_asid`. The router answers UpdateTokenSuccess, or UpdateTokenFailure
 * (body = error text) and keeps the old token; the channel stays open either way. OpenZiti v1.7.2
 * never answers one on a channel that authenticated with a legacy token, or whose body is not a
 * JWT (`router/xgress_edge/listener.go processTokenUpdate` builds that reply but does not send it).
 */
import type { Channel } from '../channel/channel.ts';
import { ContentType } from '../channel/constants.ts';
import { type Message, newMessage, stringBytes } from '../channel/message.ts';
import { ZitiAuthenticationError, ZitiProtocolError } from '../errors.ts';

export function encodeUpdateToken(accessToken: string): Message {
  return newMessage(ContentType.UpdateToken, new Map(), stringBytes(accessToken));
}

/** Sends UpdateToken and waits for the router's verdict; a failure is a ZitiAuthenticationError. */
export async function updateToken(
  channel: Channel,
  accessToken: string,
  timeoutMs?: number,
): Promise<void> {
  const reply = await channel.request(encodeUpdateToken(accessToken), timeoutMs);
  if (reply.contentType === ContentType.UpdateTokenSuccess) return;
  if (reply.contentType === ContentType.UpdateTokenFailure) {
    throw new ZitiAuthenticationError(
      `router refused the new token: ${new TextDecoder().decode(reply.body) || 'no reason'}`,
    );
  }
  throw new ZitiProtocolError(
    'unexpected-message',
    `UpdateToken answered with ${reply.contentType}`,
  );
}
