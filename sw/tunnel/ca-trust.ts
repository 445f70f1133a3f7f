/**
 * The routers' CA bundle for one tunnel. A bundle kept from an earlier start (IndexedDB, which page
 * script can rewrite) may begin a router's TLS handshake beside the controller's answer, but the
 * connection is used (channel hello with the session token) only once the controller has given the
 * same bundle: storage saves a round trip, it never decides whom to trust.
 */
export class CaTrust {
  #kept: string[] | undefined;
  #confirmed?: string[];
  #pending?: Promise<string[]>;
  readonly #fetch: () => Promise<string[]>;

  /** `fetch` asks the controller; `kept` is what a previous start stored (unchecked). */
  constructor(fetch: () => Promise<string[]>, kept?: readonly string[]) {
    this.#fetch = fetch;
    this.#kept = kept && kept.length > 0 ? [...kept] : undefined;
  }

  /** The bundle to start a handshake with: the confirmed one, else the kept one, else none. */
  candidate(): string[] | undefined {
    return this.#confirmed ?? this.#kept;
  }

  /** The controller's bundle: asked once per tunnel, again after a failure. */
  confirmed(): Promise<string[]> {
    if (this.#confirmed) return Promise.resolve(this.#confirmed);
    if (!this.#pending) {
      const pending = this.#fetch().then((bundle) => {
        this.#confirmed = bundle;
        return bundle;
      });
      this.#pending = pending;
      pending.catch(() => {
        if (this.#pending === pending) this.#pending = undefined;
      });
    }
    return this.#pending;
  }
}

/** Whether two bundles hold the same certificates (order and surrounding whitespace aside). */
export function sameBundle(a: readonly string[], b: readonly string[]): boolean {
  const norm = (list: readonly string[]) => [...new Set(list.map((pem) => pem.trim()))].sort();
  const x = norm(a);
  const y = norm(b);
  return x.length === y.length && x.every((pem, i) => pem === y[i]);
}

/**
 * A connection made with the bundle the controller confirms: `open` with the candidate at once
 * (beside the controller's answer), kept only if the controller names the same bundle; otherwise
 * (or if the candidate failed and the controller's differs) `open` again with the controller's.
 * Fails closed: no answer from the controller, no connection.
 */
export async function openTrusted<C extends { close(): Promise<void> }>(
  trust: CaTrust,
  open: (anchors: string[]) => Promise<C>,
): Promise<C> {
  const candidate = trust.candidate() ?? (await trust.confirmed());
  const confirmed = trust.confirmed();
  // Both settle before either is looked at: no unhandled rejection, nothing used unconfirmed.
  const [first, ca] = await Promise.allSettled([open(candidate), confirmed]);
  if (ca.status === 'rejected') {
    if (first.status === 'fulfilled') await first.value.close().catch(() => {});
    throw ca.reason;
  }
  if (sameBundle(candidate, ca.value)) {
    if (first.status === 'rejected') throw first.reason;
    return first.value;
  }
  if (first.status === 'fulfilled') await first.value.close().catch(() => {});
  return open(ca.value);
}
