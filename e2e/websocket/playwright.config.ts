/**
 * Runs only the WebSocket e2e spec (`e2e/websocket.spec.ts`, which serves its own fixture and test
 * service worker, no fabric): `npx playwright test -c e2e/websocket/playwright.config.ts`.
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defineConfig } from '@playwright/test';
import base from '../../playwright.config.ts';

export default defineConfig({
  ...base,
  testDir: '..',
  testMatch: 'websocket*.spec.ts',
  // Its own artifacts dir: a concurrent run of the main config empties test-results/.
  outputDir: join(tmpdir(), 'zt-websocket-e2e-results'),
});
