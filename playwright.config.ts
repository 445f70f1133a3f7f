import { defineConfig } from '@playwright/test';
import { acceptFabricCert, browsers, chromiumArgs } from './e2e/browsers.ts';
import type { NetworkOptions } from './e2e/support/fabric.ts';

/**
 * Every spec starts the servers it needs on 127.0.0.1 with ephemeral ports (most through the
 * network fixture, e2e/support/fabric.ts), so runs never collide on a port.
 *
 * Projects: `chromium` and `firefox` run every spec against the in-process fabric (`npm run
 * test:e2e`); `chromium-openziti` and `firefox-openziti` run the specs below against OpenZiti's own
 * controller, router and tunneler (`npm run test:real`). A test tagged `@fabric-only` needs what
 * only the fabric can do (e.g. seconds-long certificates); `@openziti-only` what only the real
 * network can do.
 */
const OPENZITI_SPECS = [
  'browser-path',
  'resumed-download',
  'resumed-download.chromium',
  'mattermost-tunnel',
  'mattermost-real',
  'mattermost-real.chromium',
  'router-outage',
  'identity-lifecycle',
  'openziti-conformance',
  'worker-stop.chromium',
  'status-page',
  'oidc-session',
  'oidc-sign-out',
  'oidc-legacy',
].map((name) => `**/${name}.spec.ts`);
/** Compares the two networks, so it needs the real one: `*-openziti` projects only. */
const CONFORMANCE = '**/openziti-conformance.spec.ts';

const chromium = {
  browserName: 'chromium',
  launchOptions: { executablePath: browsers.chromium.path, args: chromiumArgs },
} as const;
const firefox = {
  browserName: 'firefox',
  channel: 'moz-firefox',
  launchOptions: { executablePath: browsers.firefox.path },
} as const;

export default defineConfig<NetworkOptions>({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    serviceWorkers: 'allow',
    trace: 'retain-on-failure',
    // The routers' wss certificates come from their own CAs (e2e/browsers.ts says why this is
    // safe); Chromium also needs the flag in chromiumArgs, since this does not reach its workers.
    ...acceptFabricCert,
  },
  projects: [
    { name: 'chromium', testIgnore: CONFORMANCE, grepInvert: /@openziti-only/, use: chromium },
    {
      name: 'firefox',
      // `*.chromium.spec.ts` show what only Chromium exposes (CDP, e.g. stopping a service worker)
      // or does (a worker's response waits for its page).
      testIgnore: ['**/*.chromium.spec.ts', CONFORMANCE],
      grepInvert: /@openziti-only/,
      use: firefox,
    },
    {
      name: 'chromium-openziti',
      testMatch: OPENZITI_SPECS,
      grepInvert: /@fabric-only/,
      use: { ...chromium, network: 'openziti' },
    },
    {
      name: 'firefox-openziti',
      testMatch: OPENZITI_SPECS,
      testIgnore: '**/*.chromium.spec.ts',
      grepInvert: /@fabric-only/,
      use: { ...firefox, network: 'openziti' },
    },
  ],
});
