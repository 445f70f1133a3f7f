/**
 * Libraries kept out of `sw.js`, each a classic script of its own that the worker imports with
 * `importScripts` the first time it needs it (the build, `build/worker-parts.ts`, turns the
 * library's module into a call to `importPart`). Every start of a worker parses its whole script
 * before its first event, and Firefox keeps no compiled code for it. The OAuth library is needed
 * only for an IdP token refresh, the cookie library (with its public suffix list) only once the
 * first tunnelled request opens the cookie jar: as parts, a start parses neither before then.
 *
 * A service worker may import after its install only what it imported while installing, and the
 * browser keeps those scripts with the worker: `importPartsWhileInstalling` imports every part in
 * the install event, so a later start reads each from the browser, not the network. Their URLs
 * carry their content's hash, so a new build is a new worker with new parts.
 */
import { startPhases } from './tunnel/start-phases.ts';

/** The worker's global scope: what this module uses of it (the parts' globals, `importScripts`). */
declare const self: { importScripts(...urls: string[]): void } & Record<string, unknown>;

interface Part {
  /** The script, under `/__zt/` with its content's hash in the name. */
  url: string;
  /** The global the script assigns its exports to. */
  global: string;
}

/** The parts this build made, by name (`build/worker-parts.ts`); none outside the worker's build. */
declare const __ZT_WORKER_PARTS__: Record<string, Part> | undefined;

const PARTS: Record<string, Part> =
  typeof __ZT_WORKER_PARTS__ !== 'undefined' ? __ZT_WORKER_PARTS__ : {};

/** A part's exports, imported on the first call. Throws if the script cannot be imported. */
export function importPart(name: string): Record<string, unknown> {
  const part = PARTS[name];
  if (!part) throw new Error(`this build has no worker part "${name}"`);
  if (!(part.global in self)) {
    self.importScripts(part.url);
    if (!(part.global in self)) {
      throw new Error(`the worker part ${part.url} did not define ${part.global}`);
    }
    imported.push(name);
    startPhases.mark(`part-${name}`);
  }
  return self[part.global] as Record<string, unknown>;
}

/** Which parts this worker instance has imported so far (diagnostics: `/__zt/sw-status`). */
export const imported: string[] = [];

/**
 * Imports every part, to be called in the install event: the browser keeps what a worker imports
 * while installing, and refuses to import anything new later. A part that cannot be fetched fails
 * the install, so the worker before it stays in charge.
 */
export function importPartsWhileInstalling(): void {
  for (const name of Object.keys(PARTS)) importPart(name);
}
