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
  /** The Bind's TerminatorIdentity ('' without one): what a dial's TerminatorIdentity must match. */
  instanceId: string;
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

  /**
   * The live hosted terminator a dial with TerminatorIdentity `instanceId` reaches, chosen as the
   * controller does (`selectPath`): only matching terminators, the most specific match, then the
   * cheapest; ties go to the most recent bind.
   */
  pick(serviceId: string, instanceId = ''): HostedTerminator | undefined {
    let best: HostedTerminator | undefined;
    let bestRank = -1;
    for (const t of this.#byService.get(serviceId) ?? []) {
      const rank = instanceMatchRank(t.instanceId, instanceId);
      if (t.channel.isClosed || rank < 0) continue;
      if (!best || rank > bestRank || (rank === bestRank && t.cost <= best.cost)) {
        best = t;
        bestRank = rank;
      }
    }
    return best;
  }

  count(serviceId: string): number {
    return (this.#byService.get(serviceId) ?? []).length;
  }
}

/**
 * How specifically a terminator's instance id matches a dial's, or -1 for no match. Plain ids match
 * case-insensitively and '' only matches '' (a dial without TerminatorIdentity never reaches a
 * terminator bound with one); `*:base` matches `base` and its subdomains, the longer base the better.
 */
export function instanceMatchRank(terminatorId: string, requested: string): number {
  const want = requested.toLowerCase();
  if (!terminatorId.startsWith('*:')) {
    if (terminatorId.toLowerCase() !== want) return -1;
    return want === '' ? 0 : Number.MAX_SAFE_INTEGER;
  }
  const base = terminatorId.slice(2).toLowerCase();
  return want !== '' && (want === base || want.endsWith(`.${base}`)) ? base.length : -1;
}
