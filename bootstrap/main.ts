/**
 * The bootstrap page: login at the company IdP, enrollment, service-worker registration, then one
 * navigation into the app at the URL the person first asked for.
 */
import {
  type BootstrapConfig,
  CALLBACK_PATH,
  loadBootstrapConfig,
  SIGNED_OUT_PATH,
} from '../shared/config/bootstrap-config.ts';
import {
  controllerAuth,
  refreshApiSession,
  tokenRefreshDue,
} from '../shared/identity/api-session.ts';
import {
  clearPendingLogin,
  clearSignedOut,
  loadIdentity,
  loadPendingLogin,
  type PendingLogin,
  type StoredIdentity,
  saveIdentity,
  savePendingLogin,
  wasSignedOut,
  wipeStore,
} from '../shared/identity/store.ts';
import { callWorker } from '../shared/page-worker/rpc.ts';
import { oidcRevoke, tokenId, ZitiOidcError } from '../shared/ziti/controller/oidc-session.ts';
import { ControllerClient, ZitiApiError } from '../shared/ziti/index.ts';
import { enroll, findDialableService, startEnrollment } from './enrollment.ts';
import { explain } from './explain.ts';
import { idpSignOut } from './idp-logout.ts';
import { beginLogin, completeLogin, discoverIdp, idpOfPending, pickSigner } from './oidc.ts';
import { requestedPath } from './return-target.ts';
import { onLogout, say, setState, showError, startStep } from './ui.ts';
import { ensureServiceWorker, registerServiceWorker } from './worker.ts';

/** Runs one labelled step of the flow, marking it done or failed in the list. */
async function step<T>(label: string, work: () => Promise<T>): Promise<T> {
  const handle = startStep(label);
  const start = performance.now();
  try {
    const value = await work();
    // A User Timing entry per step: DevTools' performance panel shows where a sign-in spends time.
    performance.measure(`zt: ${label}`, { start });
    handle.done();
    return value;
  } catch (err) {
    handle.fail();
    throw err;
  }
}

/**
 * An identity is reusable if it is for this controller, its certificate is current and its API
 * session alive: a legacy one answers, an OIDC one has a current (or refreshable) access token.
 */
async function stillUsable(identity: StoredIdentity, config: BootstrapConfig): Promise<boolean> {
  if (identity.controller !== config.controller) return false;
  if (identity.certificateNotAfter < Date.now() + 60_000) return false;
  let apiSession = identity.apiSession;
  if (apiSession.oidc && Date.now() >= tokenRefreshDue(apiSession)) {
    try {
      apiSession = await refreshApiSession(config.controller, apiSession);
    } catch (err) {
      if (err instanceof ZitiOidcError) return false; // refused: log in again
      throw err;
    }
    await saveIdentity({ ...identity, apiSession });
  }
  const client = new ControllerClient({
    baseUrl: config.controller,
    ...controllerAuth(apiSession),
  });
  try {
    // An OIDC session has no stored API session to ask about: its token is checked by the call below.
    if (!apiSession.oidc) await client.currentApiSession();
    await findDialableService(client, config.service);
    return true;
  } catch (err) {
    if (err instanceof ZitiApiError && err.status === 401) return false;
    throw err;
  }
}

async function enterApp(returnTo: string): Promise<void> {
  const worker = await step('Starting the secure channel', ensureServiceWorker);
  await callWorker(worker).identityChanged();
  setState('entering');
  location.replace(returnTo);
}

async function startLogin(config: BootstrapConfig, returnTo: string): Promise<void> {
  // The worker installs (script, precache) while the person is at the IdP, instead of after it:
  // the browser carries a registration job on when its page navigates away. Without an identity
  // the worker lets the sign-in pages through; `enterApp` still waits for it to be active.
  registerServiceWorker().catch((err: unknown) =>
    console.warn('early service worker registration failed', err),
  );
  const controller = new ControllerClient({ baseUrl: config.controller });
  const signer = await step('Finding your sign-in provider', async () =>
    pickSigner(await controller.externalJwtSigners(), config.signer),
  );
  const idp = await discoverIdp(signer);
  const { url, pending } = await beginLogin(idp, returnTo, await wasSignedOut());
  await savePendingLogin({ ...pending, config });
  setState('redirecting');
  location.assign(url);
}

async function finishLogin(
  config: BootstrapConfig,
  callbackUrl: URL,
  pending: PendingLogin | undefined,
): Promise<void> {
  if (!pending) {
    // A stale or replayed callback: start over rather than fail.
    await startLogin(config, '/');
    return;
  }
  // What enrollment needs without the IdP's token starts now, beside the code exchange.
  const enrollment = startEnrollment(config);
  const tokens = await step('Checking your sign-in', async () => {
    // The IdP as the login began with it; only an older pending row makes us look it up again.
    const idp =
      idpOfPending(pending) ??
      (await discoverIdp(
        pickSigner(
          await new ControllerClient({ baseUrl: config.controller }).externalJwtSigners(),
          pending.signerName,
        ),
      ));
    const tokens = await completeLogin(idp, pending, callbackUrl);
    await clearPendingLogin();
    if (pending.forcedLogin) await clearSignedOut();
    return tokens;
  });
  const identity = await step('Enrolling this browser', () => enroll(config, tokens, enrollment));
  await saveIdentity({ ...identity, signer: pending.signerName });
  await enterApp(pending.returnTo);
}

/**
 * Ends the API session at the controller: a legacy one is deleted; an OIDC one has no session to
 * delete, so both its tokens are revoked: the refresh token gives no new access token, and the
 * access token opens no new circuit (REST still takes it until its short life ends).
 */
async function endApiSession(identity: StoredIdentity): Promise<void> {
  const { apiSession, controller } = identity;
  const within = AbortSignal.timeout(5_000);
  const oidc = apiSession.oidc;
  if (oidc) {
    const revoke = (token: string, tokenTypeHint: 'refresh_token' | 'access_token') =>
      oidcRevoke({
        controller,
        fetch: (request) => fetch(request, { signal: within }),
        token,
        tokenTypeHint,
      });
    // Revoking a refresh token revokes its id; the first one shares it with its access token
    // (v1.7.2 `createRefreshClaims`), and revoking an id twice is a 500 there.
    await revoke(oidc.refreshToken, 'refresh_token');
    const accessId = tokenId(apiSession.token);
    if (accessId === undefined || accessId !== tokenId(oidc.refreshToken))
      await revoke(apiSession.token, 'access_token');
    return;
  }
  await new ControllerClient({
    baseUrl: controller,
    fetch: (input, init) => fetch(input, { ...init, signal: within }),
    ...controllerAuth(apiSession),
  }).deleteApiSession();
}

/**
 * Signs this browser out: the API session ended at the controller, the IdP's tokens revoked, the
 * worker told, every local row, cache and the worker itself gone. Returns the IdP's end-session URL
 * when it offers one, for the browser to visit last.
 */
async function logout(): Promise<string | undefined> {
  // The worker stops first: it may be refreshing the OIDC access token, which spends the refresh
  // token in the store; what is read after it stopped is what the controller still honours.
  const registration = await navigator.serviceWorker.getRegistration('/');
  if (registration?.active)
    // Not waiting long: the wipe below removes the worker anyway.
    await callWorker(registration.active, { timeoutMs: 10_000 })
      .logout()
      .catch(() => {});
  const identity = await loadIdentity().catch(() => undefined);
  const [, idp] = await Promise.all([
    identity ? endApiSession(identity).catch(() => {}) : undefined, // best effort: the wipe matters
    idpSignOut(identity?.idp, new URL(SIGNED_OUT_PATH, location.origin).href),
  ]);
  await wipeStore();
  for (const name of await caches.keys()) await caches.delete(name);
  await registration?.unregister();
  return idp.endSessionUrl;
}

async function signOut(): Promise<void> {
  const endSession = await step('Signing out and forgetting this device', logout);
  if (endSession) {
    setState('redirecting');
    location.assign(endSession);
    return;
  }
  signedOut();
}

function signedOut(): void {
  say('You are signed out. Open the application again to sign in.');
  setState('signed-out');
  history.replaceState(null, '', '/');
}

async function run(): Promise<void> {
  const url = new URL(location.href);
  if (url.pathname === '/__zt/index.html' && url.searchParams.has('logout')) {
    // Any page, another site's too, can link here: sign out only when the person confirms.
    say('Sign out of this application and forget this device?');
    setState('confirm-sign-out');
    onLogout(() => void signOut().catch(fail));
    return;
  }
  if (url.pathname === '/__zt/index.html' && url.searchParams.has('signed-out')) {
    signedOut();
    return;
  }
  const readConfig = () => step('Reading configuration', () => loadBootstrapConfig());
  if (url.pathname === CALLBACK_PATH) {
    // The code and state leave the address bar and history at once (read from `url` from here on),
    // so no later Referer, bookmark or back button carries them.
    history.replaceState(null, '', CALLBACK_PATH);
    const pending = await loadPendingLogin();
    // The configuration the login began with is kept with it: no second read before the exchange.
    await finishLogin(pending?.config ?? (await readConfig()), url, pending);
    return;
  }
  // The stored identity is read from IndexedDB beside the configuration, not after it.
  const identityRead = loadIdentity();
  identityRead.catch(() => {}); // awaited below, where a failure is reported
  const config = await readConfig();
  const returnTo = requestedPath(url);
  const identity = await identityRead;
  if (identity && (await step('Checking this device', () => stillUsable(identity, config)))) {
    onLogout(() => void signOut().catch(fail));
    await enterApp(returnTo);
    return;
  }
  await startLogin(config, returnTo);
}

function fail(err: unknown): void {
  console.error(err);
  const [title, detail] = explain(err);
  showError(title, detail, start);
}

function start(): void {
  run().catch(fail);
}

start();
