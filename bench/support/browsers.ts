/**
 * Browsers for the benchmarks, and the sign-in that opens the product in them.
 *
 * Playwright inspects a Chromium service worker's network by default, and with that inspection on,
 * Chromium copies every WebSocket frame the worker receives into the automation pipe (base64, as a
 * DevTools event), which costs the browser and the driver more than the tunnel itself. A person's
 * browser has no DevTools attached, so the benchmarks turn it off.
 */
import { type Browser, chromium, firefox, type Page } from '@playwright/test';
import { acceptFabricCert, browsers, chromiumArgs } from '../../e2e/browsers.ts';
import { signInAtIdp } from '../../e2e/support/enter-app.ts';
import type { BenchNetwork } from './network.ts';

process.env.PLAYWRIGHT_DISABLE_SERVICE_WORKER_NETWORK = '1';

export type BenchBrowser = 'chromium' | 'firefox';
export const BENCH_BROWSERS: BenchBrowser[] = ['chromium', 'firefox'];

/** `extraArgs` go to Chromium, `firefoxUserPrefs` to Firefox. */
export function launchBrowser(
  name: BenchBrowser,
  extraArgs: string[] = [],
  firefoxUserPrefs: Record<string, string | number | boolean> = {},
): Promise<Browser> {
  return name === 'chromium'
    ? chromium.launch({
        executablePath: browsers.chromium.path,
        args: [...chromiumArgs, ...extraArgs],
      })
    : firefox.launch({
        channel: 'moz-firefox',
        executablePath: browsers.firefox.path,
        firefoxUserPrefs,
      });
}

/** A new context signed in through the product at `path`; returns the page and the time it took. */
export async function signedInPage(
  browser: Browser,
  net: BenchNetwork,
  path: string,
  ready: string,
): Promise<{ page: Page; ms: number }> {
  const context = await browser.newContext(acceptFabricCert);
  const page = await context.newPage();
  const t0 = Date.now();
  await page.goto(`${net.siteOrigin}${path}`);
  await signInAtIdp(page, net.user);
  await page.waitForURL(`${net.siteOrigin}${path}`);
  await page.locator(ready).waitFor();
  return { page, ms: Date.now() - t0 };
}
