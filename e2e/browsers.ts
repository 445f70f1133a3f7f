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

/** Flags that keep Chromium from reaching for the network on a closed machine. */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
  '--disable-quic',
  '--disable-sync',
];
