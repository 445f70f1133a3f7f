/** What the OIDC specs read of the browser's state (e2e/oidc-*.spec.ts). */
import type { Page } from '@playwright/test';

export interface StoredSession {
  token: string;
  oidc: boolean;
  refreshToken?: string;
  controller: string;
}

/** The API session the worker keeps in IndexedDB (the page can read it: same origin). */
export function storedSession(page: Page): Promise<StoredSession> {
  return page.evaluate(
    () =>
      new Promise<StoredSession>((resolve, reject) => {
        const open = indexedDB.open('zt');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const get = open.result.transaction('kv').objectStore('kv').get('identity');
          get.onerror = () => reject(get.error);
          get.onsuccess = () => {
            const id = get.result;
            open.result.close();
            resolve({
              token: id.apiSession.token,
              oidc: id.apiSession.oidc !== undefined,
              refreshToken: id.apiSession.oidc?.refreshToken,
              controller: id.controller,
            });
          };
        };
      }),
  );
}

export const claimsOf = (jwt: string) =>
  JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<
    string,
    unknown
  >;
