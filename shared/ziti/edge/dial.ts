import type { Channel } from '../channel/channel.ts';
import type { DialOptions, EdgeConnection } from './types.ts';

/** Dials a service over `channel` (reference §3.4). */
export async function dialService(
  _channel: Channel,
  _options: DialOptions,
): Promise<EdgeConnection> {
  throw new Error('not implemented yet');
}
