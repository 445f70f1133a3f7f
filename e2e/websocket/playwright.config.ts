/**
 * Runs only the WebSocket e2e spec, without the fabric web server the main config starts (the spec
 * serves its own fixture): `npx playwright test -c e2e/websocket/playwright.config.ts`.
 */
import { defineConfig } from '@playwright/test';
import base from '../../playwright.config.ts';

export default defineConfig({
  ...base,
  testDir: '..',
  testMatch: 'websocket*.spec.ts',
  webServer: undefined,
});
