/** A TCP proxy that can re-slice or corrupt the server-to-client byte stream. */
import net from 'node:net';
import { type Listening, listen } from './node-peer.ts';

export interface ProxyControl {
  /** Split every chunk in both directions into pieces of this many bytes. */
  sliceSize?: number;
  /** When set, flips one bit at this offset of the next server-to-client chunk, then clears. */
  corruptNextAt?: number;
}

export async function startProxy(targetPort: number, control: ProxyControl): Promise<Listening> {
  const server = net.createServer((client) => {
    const upstream = net.connect(targetPort, '127.0.0.1');
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    const forward = (to: net.Socket, chunk: Buffer) => {
      const size = control.sliceSize ?? chunk.length;
      for (let i = 0; i < chunk.length; i += size) to.write(chunk.subarray(i, i + size));
    };
    client.on('data', (d) => forward(upstream, d));
    upstream.on('data', (d) => {
      if (control.corruptNextAt !== undefined && d.length > control.corruptNextAt) {
        d[control.corruptNextAt]! ^= 0x01;
        control.corruptNextAt = undefined;
      }
      forward(client, d);
    });
    client.on('end', () => upstream.end());
    upstream.on('end', () => client.end());
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  return listen(server);
}
