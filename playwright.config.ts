import { defineConfig } from '@playwright/test';
import { browsers, chromiumArgs } from './e2e/browsers.ts';

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
