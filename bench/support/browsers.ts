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

/** Where the time of a first visit goes, in ms, each phase from the end of the one before. */
export interface FirstVisitPhases {
  /** The site's bootstrap page until the IdP's login form is ready. */
  toIdp: number;
  /** Filling in the form (the automation, a person's typing). */
  typing: number;
  /** From submitting the form to the app's URL: IdP, callback, enrollment, worker. */
  signIn: number;
  /** From the app's URL to the app painted: the tunnel's first requests. */
  appLoad: number;
}

/**
 * A new context signed in through the product at `path`; returns the page, the time it took
 * (`ms`, URL to `ready` visible, typing included) and its phases.
 */
export async function signedInPage(
  browser: Browser,
  net: BenchNetwork,
  path: string,
  ready: string,
): Promise<{ page: Page; ms: number; phases: FirstVisitPhases }> {
  const context = await browser.newContext(acceptFabricCert);
  const page = await context.newPage();
  const appUrl = `${net.siteOrigin}${path}`;
  const t0 = Date.now();
  await page.goto(appUrl);
  await page.locator('input[name="username"]').waitFor();
  const atIdp = Date.now();
  await page.locator('input[name="username"]').fill(net.user.name);
  await page.locator('input[name="password"]').fill(net.user.password);
  const typed = Date.now();
  await page.locator('button[type="submit"]').click();
  await page.waitForURL(appUrl, { waitUntil: 'commit' });
  const atApp = Date.now();
  await page.locator(ready).waitFor();
  const done = Date.now();
  return {
    page,
    ms: done - t0,
    phases: {
      toIdp: atIdp - t0,
      typing: typed - atIdp,
      signIn: atApp - typed,
      appLoad: done - atApp,
    },
  };
}

/** One small tunnelled GET's time to its whole body (ms), from the page: the resume figure. */
export const timedSmallGet = (page: Page) =>
  page.evaluate(async () => {
    const t = performance.now();
    const response = await fetch('/cookies/echo?resume', { cache: 'no-store' });
    await response.text();
    if (!response.ok) throw new Error(`status ${response.status}`);
    return performance.now() - t;
  });
