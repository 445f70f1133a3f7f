/** Messages the bootstrap page sends the service worker (postMessage, answered on a MessagePort). */
export type PageToWorker =
  /** The stored identity changed (login, renewal): drop in-memory state and reload it from IndexedDB. */
  | { type: 'zt:identity-changed' }
  /** Sign-out: close channels, forget everything in memory. */
  | { type: 'zt:logout' }
  /** Take control of this (uncontrolled, e.g. shift-reloaded) page. */
  | { type: 'zt:claim' };

export interface WorkerReply {
  ok: boolean;
  error?: string;
}
