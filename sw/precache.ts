/// <reference lib="webworker" />
/**
 * Our own shell (bootstrap page, shim, bootstrap.js, icons, manifest, offline banner), precached with
 * workbox at install and versioned by content: the list is written into this bundle at build time
 * (vite.config.ts, `__ZT_PRECACHE__`), so a changed file makes a new worker that refreshes it.
 */
import { PrecacheController, type PrecacheEntry, PrecacheRoute } from 'workbox-precaching';

declare const __ZT_PRECACHE__: PrecacheEntry[] | undefined;

export const precacheEntries: PrecacheEntry[] =
  typeof __ZT_PRECACHE__ !== 'undefined' ? __ZT_PRECACHE__ : [];

export const precache = new PrecacheController({ cacheName: 'zt-precache' });

/** Registers install/activate handlers that fill and prune the precache. */
export function startPrecache(): void {
  precache.precache(precacheEntries);
}

/** Answers precached paths from the cache, whatever their query (`/__zt/index.html?return=...`). */
export function precacheRoute(): PrecacheRoute {
  return new PrecacheRoute(precache, { ignoreURLParametersMatching: [/.*/], cleanURLs: false });
}

/** A precached file by path, if present. */
export async function fromPrecache(path: string): Promise<Response | undefined> {
  return (await precache.matchPrecache(path)) ?? undefined;
}
