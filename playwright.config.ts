import { defineConfig } from '@playwright/test';
import { acceptFabricCert, browsers, chromiumArgs } from './e2e/browsers.ts';

/**
 * Every spec starts the servers it needs on 127.0.0.1 with ephemeral ports (most through the
 * in-process fabric fixture, e2e/support/fabric.ts), so runs never collide on a port.
 */
export default defineConfig({
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
    // The fabric router's wss certificate is from the fabric CA (e2e/browsers.ts says why this is
    // safe); Chromium also needs the flag in chromiumArgs, since this does not reach its workers.
    ...acceptFabricCert,
  },
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: { executablePath: browsers.chromium.path, args: chromiumArgs },
      },
    },
    {
      name: 'firefox',
      // `*.chromium.spec.ts` drive what only Chromium exposes (CDP), e.g. stopping a service worker.
      testIgnore: '**/*.chromium.spec.ts',
      use: {
        browserName: 'firefox',
        channel: 'moz-firefox',
        launchOptions: { executablePath: browsers.firefox.path },
      },
    },
  ],
});
