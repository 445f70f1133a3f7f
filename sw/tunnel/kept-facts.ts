import type { ZitiSession } from '../../shared/ziti/index.ts';

/** The row of the worker's store (`ztStore`, beside the identity) with what a warm tunnel learnt. */
export const KEPT_FACTS_KEY = 'tunnel-facts';

/**
 * What a running tunnel learnt from the controller, kept so that a restarted worker can start its
 * router connection at once instead of after three controller round trips. Scoped to one API
 * session of one controller: a new login (another API session) or another identity never reads it,
 * and sign-out wipes the whole store. Page script can rewrite it, so each fact is only a head start
 * that the controller confirms (`ca-trust.ts`; a kept Dial session is used only for the service id
 * the controller lists, and replaced when a router refuses it).
 */
export interface KeptFacts {
  apiSessionId: string;
  controller: string;
  caBundle?: string[];
  /** Dial sessions by service name. */
  sessions: Record<string, ZitiSession>;
}

export interface FactRows {
  get(key: string): Promise<unknown>;
  set(key: string, value: unknown): Promise<void>;
  del(key: string): Promise<void>;
}

interface Owner {
  controller: string;
  apiSession: { id: string };
}

const owns = (facts: KeptFacts, owner: Owner) =>
  facts.apiSessionId === owner.apiSession.id && facts.controller === owner.controller;

const isFacts = (value: unknown): value is KeptFacts => {
  const v = value as Partial<KeptFacts> | undefined;
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof v.apiSessionId === 'string' &&
    typeof v.controller === 'string' &&
    typeof v.sessions === 'object' &&
    v.sessions !== null &&
    (v.caBundle === undefined ||
      (Array.isArray(v.caBundle) && v.caBundle.every((pem) => typeof pem === 'string')))
  );
};

/** The kept facts (the row's value) if they are `owner`'s API session's; anything else counts as none. */
export function keptFactsOf(value: unknown, owner: Owner): KeptFacts | undefined {
  return isFacts(value) && owns(value, owner) ? value : undefined;
}

/**
 * Writes facts of one API session as the tunnel learns them, one write at a time (each reads the
 * row first, so a row that meanwhile belongs to another session is replaced, never merged).
 */
export class FactKeeper {
  readonly #rows: FactRows;
  readonly #owner: Owner;
  #queue: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(rows: FactRows, owner: Owner) {
    this.#rows = rows;
    this.#owner = { controller: owner.controller, apiSession: { id: owner.apiSession.id } };
  }

  caBundle(caBundle: string[]): Promise<void> {
    return this.#update((facts) => ({ ...facts, caBundle }));
  }

  session(serviceName: string, session: ZitiSession): Promise<void> {
    return this.#update((facts) => ({
      ...facts,
      sessions: { ...facts.sessions, [serviceName]: session },
    }));
  }

  forgetSession(serviceName: string): Promise<void> {
    return this.#update((facts) => {
      const { [serviceName]: _gone, ...sessions } = facts.sessions;
      return { ...facts, sessions };
    });
  }

  /** No more writes (the tunnel was dropped: sign-out, identity change); `wipe` removes the row. */
  async stop({ wipe = false } = {}): Promise<void> {
    this.#stopped = true;
    await this.#queue;
    if (wipe) await this.#rows.del(KEPT_FACTS_KEY);
  }

  #update(change: (facts: KeptFacts) => KeptFacts): Promise<void> {
    const work = this.#queue.then(async () => {
      if (this.#stopped) return;
      const current = await this.#rows.get(KEPT_FACTS_KEY);
      const base: KeptFacts =
        isFacts(current) && owns(current, this.#owner)
          ? current
          : {
              apiSessionId: this.#owner.apiSession.id,
              controller: this.#owner.controller,
              sessions: {},
            };
      if (this.#stopped) return;
      await this.#rows.set(KEPT_FACTS_KEY, change(base));
    });
    // A failed write costs only the head start of the next start.
    this.#queue = work.catch(() => {});
    return this.#queue;
  }
}
