import { describe, expect, it } from 'vitest';
import {
  type AnswerFacts,
  basicAuthorization,
  basicRealm,
  credentialProblem,
  credentialsToAttach,
  HttpAuthStore,
  onAnswer,
  parseChallenges,
  protectionPrefix,
} from './http-auth.ts';

const APP = 'https://app.example';
const u = (path: string, origin = APP) => new URL(path, origin);

describe('parseChallenges (RFC 9110 §11.6.1)', () => {
  it('one Basic challenge with a quoted realm', () => {
    expect(parseChallenges('Basic realm="probe"')).toEqual([
      { scheme: 'Basic', params: { realm: 'probe' } },
    ]);
  });

  it('quoted strings keep commas, spaces and equals signs; backslash escapes', () => {
    expect(parseChallenges('Basic realm="a, b = \\"c\\" \\\\ d", charset="UTF-8"')).toEqual([
      { scheme: 'Basic', params: { realm: 'a, b = "c" \\ d', charset: 'UTF-8' } },
    ]);
  });

  it('several challenges in one field, separated by the same commas as their parameters', () => {
    expect(
      parseChallenges(
        'Newauth realm="apps", type=1, title="Login to \\"apps\\"", Basic realm="simple"',
      ),
    ).toEqual([
      { scheme: 'Newauth', params: { realm: 'apps', type: '1', title: 'Login to "apps"' } },
      { scheme: 'Basic', params: { realm: 'simple' } },
    ]);
  });

  it('fields given separately', () => {
    expect(
      parseChallenges(['Bearer', 'Digest realm="d", nonce="n", qop="auth"', 'Basic realm=x']),
    ).toEqual([
      { scheme: 'Bearer', params: {} },
      { scheme: 'Digest', params: { realm: 'd', nonce: 'n', qop: 'auth' } },
      { scheme: 'Basic', params: { realm: 'x' } },
    ]);
  });

  it('a scheme alone, then another challenge; empty list elements', () => {
    expect(parseChallenges(' , Negotiate ,, Basic realm="r" ,')).toEqual([
      { scheme: 'Negotiate', params: {} },
      { scheme: 'Basic', params: { realm: 'r' } },
    ]);
  });

  it('token68, and a token68 followed by another challenge', () => {
    expect(parseChallenges('Negotiate YII+/abc==, Basic realm="r"')).toEqual([
      { scheme: 'Negotiate', params: {}, token68: 'YII+/abc==' },
      { scheme: 'Basic', params: { realm: 'r' } },
    ]);
  });

  it('whitespace around "=" (BWS), case-insensitive parameter names, the first repeat wins', () => {
    expect(parseChallenges('basic REALM = "one" , realm="two"')).toEqual([
      { scheme: 'basic', params: { realm: 'one' } },
    ]);
  });

  it('token (unquoted) values', () => {
    expect(parseChallenges('Basic realm=probe, charset=UTF-8')).toEqual([
      { scheme: 'Basic', params: { realm: 'probe', charset: 'UTF-8' } },
    ]);
  });

  it('malformed input is skipped, never thrown on', () => {
    expect(() => parseChallenges('Basic realm="unterminated')).not.toThrow();
    expect(parseChallenges('Basic realm="unterminated')).toEqual([{ scheme: 'Basic', params: {} }]);
    expect(parseChallenges('"junk", Basic realm="r"')).toEqual([
      { scheme: 'Basic', params: { realm: 'r' } },
    ]);
    // `realm=` with no value is not a parameter, but it is a valid token68.
    expect(parseChallenges('Basic realm=, Bearer')).toEqual([
      { scheme: 'Basic', params: {}, token68: 'realm=' },
      { scheme: 'Bearer', params: {} },
    ]);
    expect(parseChallenges('Basic realm="r" junk here, Bearer')).toEqual([
      { scheme: 'Basic', params: { realm: 'r' } },
      { scheme: 'Bearer', params: {} },
    ]);
    expect(parseChallenges('')).toEqual([]);
  });
});

describe('basicRealm', () => {
  it('the realm of the first Basic challenge, among others', () => {
    expect(basicRealm(['Bearer realm="api"', 'Basic realm="probe"'])).toBe('probe');
    expect(basicRealm('BASIC realm="x", Basic realm="y"')).toBe('x');
  });
  it("'' for a Basic challenge without a realm; undefined without a Basic one", () => {
    expect(basicRealm('Basic')).toBe('');
    expect(basicRealm('Digest realm="d", nonce="n"')).toBeUndefined();
    expect(basicRealm([])).toBeUndefined();
  });
});

describe('protectionPrefix (RFC 7617 §2.2)', () => {
  it('everything at or below the last slash of the path', () => {
    expect(protectionPrefix(u('/basic/page'))).toBe('/basic/');
    expect(protectionPrefix(u('/basic/'))).toBe('/basic/');
    expect(protectionPrefix(u('/a/b/c?x=/y/'))).toBe('/a/b/');
    expect(protectionPrefix(u('/page'))).toBe('/');
    expect(protectionPrefix(u('/'))).toBe('/');
  });
});

describe('basicAuthorization (RFC 7617 §2)', () => {
  it('base64 of user:password', () => {
    expect(basicAuthorization('Aladdin', 'open sesame')).toBe('Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==');
    expect(basicAuthorization('alice', 'wonderland')).toBe(
      `Basic ${Buffer.from('alice:wonderland').toString('base64')}`,
    );
  });
  it('UTF-8 (the charset="UTF-8" example of §2.1)', () => {
    expect(basicAuthorization('test', '123£')).toBe('Basic dGVzdDoxMjPCow==');
  });
  it('a colon may be in the password, not in the user name; no control characters', () => {
    expect(credentialProblem('alice', 'a:b')).toBeUndefined();
    expect(credentialProblem('al:ice', 'x')).toMatch(/colon/);
    expect(credentialProblem('alice', 'x\ny')).toMatch(/control/);
  });
});

describe('HttpAuthStore', () => {
  it('sends credentials preemptively only under the prefix they were entered for, same origin only', () => {
    const store = new HttpAuthStore();
    store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
    expect(store.forUrl(u('/basic/api/data'))?.realm).toBe('probe');
    expect(store.forUrl(u('/basic/'))?.realm).toBe('probe');
    expect(store.forUrl(u('/basic'))).toBeUndefined();
    expect(store.forUrl(u('/basically'))).toBeUndefined();
    expect(store.forUrl(u('/other/page'))).toBeUndefined();
    expect(store.forUrl(u('/basic/page', 'https://other.example'))).toBeUndefined();
    expect(store.forUrl(u('/basic/page', 'http://app.example'))).toBeUndefined();
  });

  it('the longest matching prefix wins between realms', () => {
    const store = new HttpAuthStore();
    store.signIn(u('/a/page'), 'outer', 'o', 'p');
    store.signIn(u('/a/admin/page'), 'inner', 'i', 'p');
    expect(store.forUrl(u('/a/admin/x'))?.realm).toBe('inner');
    expect(store.forUrl(u('/a/x'))?.realm).toBe('outer');
  });

  it('one entry per origin and realm: signing in again replaces it', () => {
    const store = new HttpAuthStore();
    store.signIn(u('/a/x'), 'r', 'one', 'p');
    const second = store.signIn(u('/b/x'), 'r', 'two', 'p');
    expect(store.size).toBe(1);
    expect(store.forRealm(APP, 'r')).toBe(second);
    expect(second.authorization).toBe(basicAuthorization('two', 'p'));
    expect(store.forUrl(u('/a/x'))).toBeUndefined();
  });

  it('forget and clear', () => {
    const store = new HttpAuthStore();
    const a = store.signIn(u('/a/x'), 'a', 'u', 'p');
    store.signIn(u('/b/x'), 'b', 'u', 'p');
    store.forget(a);
    expect(store.forRealm(APP, 'a')).toBeUndefined();
    expect(store.size).toBe(1);
    store.clear();
    expect(store.size).toBe(0);
    expect(store.forUrl(u('/b/x'))).toBeUndefined();
  });

  it('keeps a bounded number of protection spaces, dropping the oldest', () => {
    const store = new HttpAuthStore();
    for (let i = 0; i < 70; i++) store.signIn(u(`/r${i}/x`), `r${i}`, 'u', 'p');
    expect(store.size).toBe(64);
    expect(store.forRealm(APP, 'r0')).toBeUndefined();
    expect(store.forRealm(APP, 'r69')).toBeDefined();
  });
});

describe('credentialsToAttach', () => {
  const store = new HttpAuthStore();
  store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
  it('attaches under the protection space', () => {
    expect(
      credentialsToAttach(store, {
        url: u('/basic/data'),
        pageAuthorization: false,
        omitCredentials: false,
      })?.authorization,
    ).toBe(basicAuthorization('alice', 'wonderland'));
  });
  it('never over an Authorization the page set, never with credentials omitted', () => {
    expect(
      credentialsToAttach(store, {
        url: u('/basic/data'),
        pageAuthorization: true,
        omitCredentials: false,
      }),
    ).toBeUndefined();
    expect(
      credentialsToAttach(store, {
        url: u('/basic/data'),
        pageAuthorization: false,
        omitCredentials: true,
      }),
    ).toBeUndefined();
  });
});

describe('onAnswer', () => {
  const facts = (over: Partial<AnswerFacts>): AnswerFacts => ({
    url: u('/basic/page'),
    status: 200,
    challenges: [],
    sent: undefined,
    navigation: true,
    mayRetry: true,
    mayAuthenticate: true,
    ...over,
  });
  const challenge = ['Basic realm="probe"'];

  it('a navigation challenged with nothing stored: our sign-in page for the realm', () => {
    const store = new HttpAuthStore();
    expect(onAnswer(store, facts({ status: 401, challenges: challenge }))).toEqual({
      kind: 'sign-in',
      realm: 'probe',
      failed: false,
    });
  });

  it('a subresource challenged with nothing stored: the 401 as it is (no page for it)', () => {
    const store = new HttpAuthStore();
    expect(
      onAnswer(store, facts({ status: 401, challenges: challenge, navigation: false })),
    ).toEqual({ kind: 'pass' });
  });

  it('a challenge outside the prefix reuses the realm’s credentials once; success widens the space', () => {
    const store = new HttpAuthStore();
    const creds = store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
    const other = u('/files/report');
    for (const navigation of [false, true]) {
      expect(
        onAnswer(store, facts({ url: other, status: 401, challenges: challenge, navigation })),
      ).toEqual({ kind: 'retry', credentials: creds });
    }
    expect(onAnswer(store, facts({ url: other, sent: creds }))).toEqual({ kind: 'pass' });
    expect(creds.accepted).toBe(true);
    expect(store.forUrl(u('/files/other'))).toBe(creds);
  });

  it('no retry where the request may not be sent again', () => {
    const store = new HttpAuthStore();
    store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
    expect(
      onAnswer(
        store,
        facts({ url: u('/x/y'), status: 401, challenges: challenge, mayRetry: false }),
      ),
    ).toEqual({ kind: 'sign-in', realm: 'probe', failed: false });
  });

  it('a wrong password: forgotten, and the navigation asks again saying so', () => {
    const store = new HttpAuthStore();
    const creds = store.signIn(u('/basic/page'), 'probe', 'alice', 'wrong');
    expect(onAnswer(store, facts({ status: 401, challenges: challenge, sent: creds }))).toEqual({
      kind: 'sign-in',
      realm: 'probe',
      failed: true,
    });
    expect(store.size).toBe(0);
  });

  it("the app's logout (a 401 to a request that carried accepted credentials): forgotten, the app's answer shown", () => {
    const store = new HttpAuthStore();
    const creds = store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
    onAnswer(store, facts({ sent: creds }));
    expect(creds.accepted).toBe(true);
    expect(
      onAnswer(
        store,
        facts({ url: u('/basic/logout'), status: 401, challenges: challenge, sent: creds }),
      ),
    ).toEqual({ kind: 'pass' });
    expect(store.size).toBe(0);
    // The next navigation asks again.
    expect(onAnswer(store, facts({ status: 401, challenges: challenge }))).toMatchObject({
      kind: 'sign-in',
      failed: false,
    });
  });

  it('a subresource 401 that carried credentials forgets them too', () => {
    const store = new HttpAuthStore();
    const creds = store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
    expect(
      onAnswer(
        store,
        facts({ status: 401, challenges: challenge, sent: creds, navigation: false }),
      ),
    ).toEqual({ kind: 'pass' });
    expect(store.size).toBe(0);
  });

  it('a page that set its own Authorization, or omits credentials, handles its 401 itself', () => {
    const store = new HttpAuthStore();
    store.signIn(u('/basic/page'), 'probe', 'alice', 'wonderland');
    expect(
      onAnswer(
        store,
        facts({ url: u('/x/y'), status: 401, challenges: challenge, mayAuthenticate: false }),
      ),
    ).toEqual({ kind: 'pass' });
    expect(store.size).toBe(1);
  });

  it('a 401 without a Basic challenge (Bearer, Digest, none) is passed on', () => {
    const store = new HttpAuthStore();
    for (const challenges of [[], ['Bearer realm="api"'], ['Digest realm="d", nonce="n"']])
      expect(onAnswer(store, facts({ status: 401, challenges }))).toEqual({ kind: 'pass' });
  });

  it('a Basic challenge among others is taken', () => {
    const store = new HttpAuthStore();
    expect(
      onAnswer(
        store,
        facts({ status: 401, challenges: ['Digest realm="d", nonce="n", Basic realm="b"'] }),
      ),
    ).toEqual({ kind: 'sign-in', realm: 'b', failed: false });
  });

  it('credentials for another origin are never reused', () => {
    const store = new HttpAuthStore();
    store.signIn(u('/basic/page', 'https://sibling.example'), 'probe', 'alice', 'wonderland');
    expect(onAnswer(store, facts({ status: 401, challenges: challenge }))).toMatchObject({
      kind: 'sign-in',
    });
  });

  it('an answer other than 401 with nothing sent changes nothing', () => {
    const store = new HttpAuthStore();
    expect(onAnswer(store, facts({ status: 403 }))).toEqual({ kind: 'pass' });
    expect(store.size).toBe(0);
  });
});
