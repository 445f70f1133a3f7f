/**
 * The worker's answers to our pages' calls (`WorkerApi`, shared/page-worker/): the bootstrap page's
 * claim, identity change and sign-out, the status page's snapshot and reconnect, the HTTP sign-in
 * page's credentials. Any script of the app's origin can make these calls, so every argument is
 * checked here; a refusal is thrown as a `WorkerCallError` and reaches the page with its code.
 */
import {
  isHttpAuthCredentials,
  isStatusOp,
  type StatusOp,
  type WorkerApi,
  WorkerCallError,
} from '../shared/page-worker/api.ts';
import type { StatusSnapshot } from '../shared/status/protocol.ts';
import { credentialProblem } from './http-auth.ts';

export interface WorkerApiDeps {
  /** Take control of uncontrolled pages. */
  claim(): Promise<void>;
  /** Forget everything kept in memory for the identity (cached keys, channels, credentials). */
  reset(): Promise<void>;
  /** Sign-out: forget everything and open nothing again until the identity changes. */
  signOut(): Promise<void>;
  status(op: StatusOp): Promise<StatusSnapshot>;
  /** Whether the worker carries this URL over the tunnel (known, not pending). */
  isAppAddress(url: URL): boolean;
  signIn(url: URL, realm: string, user: string, password: string): void;
}

export function workerApi(deps: WorkerApiDeps): WorkerApi {
  return {
    claim: () => deps.claim(),
    identityChanged: () => deps.reset(),
    logout: () => deps.signOut(),
    async status(op) {
      if (!isStatusOp(op)) throw new WorkerCallError('bad-argument', 'no such status operation');
      return deps.status(op);
    },
    /**
     * Kept in memory for the challenged URL's origin and realm. Only for a URL this worker carries
     * over the tunnel: the page goes there next, so anything else would make it an open redirect,
     * and credentials for it would never be used.
     */
    async httpAuthSignIn(credentials) {
      if (!isHttpAuthCredentials(credentials))
        throw new WorkerCallError('bad-argument', 'incomplete credentials');
      const { realm, user, password } = credentials;
      let url: URL;
      try {
        url = new URL(credentials.url);
      } catch {
        throw new WorkerCallError('not-a-url', 'not a URL');
      }
      if (!deps.isAppAddress(url))
        throw new WorkerCallError('not-app-address', 'not an address of the app');
      const problem = credentialProblem(user, password);
      if (problem) throw new WorkerCallError('bad-credentials', problem);
      deps.signIn(url, realm, user, password);
    },
  };
}
