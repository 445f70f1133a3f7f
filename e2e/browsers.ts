import { existsSync } from 'node:fs';

/** The Debian browsers the end-to-end tests drive, overridable by environment variables. */
export const browsers = {
  chromium: {
    path: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    debianPackage: 'chromium',
    envVar: 'CHROMIUM_PATH',
  },
  firefox: {
    path: process.env.FIREFOX_PATH ?? '/usr/bin/firefox-esr',
    debianPackage: 'firefox-esr',
    envVar: 'FIREFOX_PATH',
  },
} as const;

export type BrowserName = keyof typeof browsers;

export function missingBrowsers(): BrowserName[] {
  return (Object.keys(browsers) as BrowserName[]).filter(
    (name) => !existsSync(browsers[name].path),
  );
}

/**
 * The fabric's edge router serves browsers over wss (as a real router does) with a certificate from
 * the fabric's own CA, which the test browsers do not trust. That outer TLS is only the browser's
 * transport: the product verifies the router's inner TLS itself, against the controller's CA bundle.
 * Chromium needs the launch flag `--ignore-certificate-errors` (in `chromiumArgs`): the context
 * option `ignoreHTTPSErrors` does not reach a service worker's fetch or WebSocket there. Firefox
 * honours the context option, in the service worker too. Spread this into every context.
 */
export const acceptFabricCert = { ignoreHTTPSErrors: true } as const;

/**
 * Flags that keep Chromium from reaching for the network on a closed machine, and that accept the
 * fabric router's self-signed outer TLS (see `acceptFabricCert`).
 */
export const chromiumArgs = [
  '--ignore-certificate-errors',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];
