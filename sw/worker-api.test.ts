import { describe, expect, it } from 'vitest';
import type { StatusSnapshot } from '../shared/status/protocol.ts';
import { workerApi } from './worker-api.ts';

function api() {
  const done: unknown[][] = [];
  return {
    done,
    api: workerApi({
      claim: async () => {
        done.push(['claim']);
      },
      reset: async () => {
        done.push(['reset']);
      },
      signOut: async () => {
        done.push(['signOut']);
      },
      status: async (op) => {
        done.push(['status', op]);
        return { at: 1 } as StatusSnapshot;
      },
      isAppAddress: (url) => url.origin === 'https://app.test',
      signIn: (url, realm, user, password) =>
        done.push(['signIn', url.href, realm, user, password]),
    }),
  };
}

describe('workerApi', () => {
  it('identity change forgets what is kept in memory; sign-out also keeps it from reopening', async () => {
    const { api: a, done } = api();
    await a.identityChanged();
    await a.logout();
    await a.claim();
    expect(done).toEqual([['reset'], ['signOut'], ['claim']]);
  });

  it('status: only the two operations', async () => {
    const { api: a, done } = api();
    await expect(a.status('snapshot')).resolves.toEqual({ at: 1 });
    await expect(a.status('logout' as never)).rejects.toMatchObject({ code: 'bad-argument' });
    expect(done).toEqual([['status', 'snapshot']]);
  });

  it('credentials only for an address of the app, checked, with the reasons the page shows', async () => {
    const { api: a, done } = api();
    const c = { url: 'https://app.test/basic/page', realm: 'probe', user: 'alice', password: 'pw' };
    await a.httpAuthSignIn(c);
    expect(done).toEqual([['signIn', c.url, 'probe', 'alice', 'pw']]);
    await expect(a.httpAuthSignIn({ ...c, url: 'nope' })).rejects.toMatchObject({
      code: 'not-a-url',
      message: 'not a URL',
    });
    await expect(a.httpAuthSignIn({ ...c, url: 'https://evil.test/' })).rejects.toMatchObject({
      code: 'not-app-address',
      message: 'not an address of the app',
    });
    await expect(a.httpAuthSignIn({ ...c, user: 'a:b' })).rejects.toMatchObject({
      code: 'bad-credentials',
      message: 'the user name cannot contain a colon',
    });
    await expect(a.httpAuthSignIn({ ...c, password: 1 } as never)).rejects.toMatchObject({
      code: 'bad-argument',
    });
    expect(done).toHaveLength(1);
  });
});
