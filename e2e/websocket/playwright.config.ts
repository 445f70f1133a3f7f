/**
 * Runs only the WebSocket e2e spec, without the fabric web server the main config starts (the spec
 * serves its own fixture): `npx playwright test -c e2e/websocket/playwright.config.ts`.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import base from '../../playwright.config.ts';

export default defineConfig({
  ...base,
  testDir: '..',
  testMatch: 'websocket*.spec.ts',
  webServer: undefined,
  // Its own artifacts dir: a concurrent run of the main config empties test-results/.
  outputDir: join(tmpdir(), 'zt-websocket-e2e-results'),
});
