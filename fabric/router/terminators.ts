/**
 * Where a service's circuits end: hosted terminators (a hosting SDK's Bind on some channel) or the
 * router itself dialing `host.v1` (router-hosted, §3.5 last paragraph).
 */
import type { Channel } from '../../shared/ziti/index.ts';

export interface HostedTerminator {
  kind: 'hosted';
  id: string;
  serviceId: string;
  channel: Channel;
  /** The Bind's ConnId. */
  bindConnId: number;
  /** The Bind session token (echoed in Dial bodies). */
  token: string;
  /** The host's listener key (E2E peer data), if it hosts with encryption. */
  publicKey: Uint8Array | undefined;
  cost: number;
  identityName: string;
  /** Allocates the next router-provided connection id on the host's channel. */
  nextConnId(): number;
}

export class TerminatorRegistry {
  readonly #byService = new Map<string, HostedTerminator[]>();

  add(t: HostedTerminator): void {
    const list = this.#byService.get(t.serviceId) ?? [];
    list.push(t);
    this.#byService.set(t.serviceId, list);
  }

  remove(t: HostedTerminator): void {
    const list = this.#byService.get(t.serviceId);
    if (!list) return;
    const i = list.indexOf(t);
    if (i >= 0) list.splice(i, 1);
  }

  removeChannel(channel: Channel): void {
    for (const list of this.#byService.values()) {
      for (let i = list.length - 1; i >= 0; i--)
        if (list[i]!.channel === channel) list.splice(i, 1);
    }
  }

  /** The cheapest live hosted terminator; ties go to the most recent bind. */
  pick(serviceId: string): HostedTerminator | undefined {
    const list = (this.#byService.get(serviceId) ?? []).filter((t) => !t.channel.isClosed);
    let best: HostedTerminator | undefined;
    for (const t of list) if (!best || t.cost <= best.cost) best = t;
    return best;
  }

  count(serviceId: string): number {
    return (this.#byService.get(serviceId) ?? []).length;
  }
}
