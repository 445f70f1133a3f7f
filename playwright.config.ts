import { defineConfig } from '@playwright/test';
import { browsers, chromiumArgs } from './e2e/browsers.ts';

const port = Number(process.env.E2E_PORT ?? 4173);

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  timeout: 60_000,
  fullyParallel: false,
  workers: 1,
  forbidOnly: !!process.env.CI,
  reporter: [['list']],
  use: {
    baseURL: `http://127.0.0.1:${port}`,
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
  webServer: {
    command: `tsx fabric/cli.ts --host 127.0.0.1 --port ${port} --ephemeral-ports`,
    url: `http://127.0.0.1:${port}/`,
    reuseExistingServer: false,
    stdout: 'pipe',
  },
});
