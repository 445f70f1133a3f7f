import type { Channel } from '../channel/channel.ts';
import type { BindOptions, EdgeListener } from './types.ts';

/** Hosts a service on `channel` (reference §3.5). */
export async function bindService(_channel: Channel, _options: BindOptions): Promise<EdgeListener> {
  throw new Error('not implemented yet');
}
