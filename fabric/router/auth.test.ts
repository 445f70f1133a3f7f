import type { PeerCertificate } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { HeaderId, newMessage, setHeaderString } from '../../shared/ziti/index.ts';
import type { ApiSession, FabricState } from '../state.ts';
import { authenticateChannel, ChannelAuthError, spiffeMatches, verifySpiffeId } from './auth.ts';

const session = {
  id: 'as1',
  token: 'tok',
  identity: { id: 'id-a', name: 'a' },
  certs: new Map([
    [
      'c1',
      {
        id: 'c1',
        fingerprint: 'fp-live',
        notAfter: new Date(2_000_000),
        notBefore: new Date(0),
        certPem: '',
      },
    ],
    [
      'c2',
      {
        id: 'c2',
        fingerprint: 'fp-old',
        notAfter: new Date(500_000),
        notBefore: new Date(0),
        certPem: '',
      },
    ],
  ]),
} as unknown as ApiSession;

const state = {
  now: () => 1_000_000,
  pki: { trustDomain: 'td' },
  resolveApiSessionToken: async (t: string) => (t === 'tok' ? { session } : undefined),
  identityCertFingerprintsOf: () => new Set<string>(),
} as unknown as FabricState;

function hello(token?: string) {
  const m = newMessage(0);
  if (token) setHeaderString(m, HeaderId.SessionToken, token);
  return m;
}
const cert = (san = '', validTo = new Date(3_000_000)) =>
  ({ subjectaltname: san, valid_to: validTo.toUTCString() }) as unknown as PeerCertificate;

describe('router channel authentication (§3.3)', () => {
  it('matches SPIFFE ids of the identity and of this API session only', () => {
    expect(spiffeMatches('spiffe://td/identity/id-a', 'td', session)).toBe(true);
    expect(spiffeMatches('spiffe://td/identity/id-a/apiSession/as1', 'td', session)).toBe(true);
    expect(
      spiffeMatches(
        'spiffe://td/identity/id-a/apiSession/as1/apiSessionCertificate/c1',
        'td',
        session,
      ),
    ).toBe(true);
    expect(
      spiffeMatches(
        'spiffe://td/identity/id-a/apiSession/as1/apiSessionCertificate/zz',
        'td',
        session,
      ),
    ).toBe(false);
    expect(spiffeMatches('spiffe://td/identity/id-a/apiSession/other', 'td', session)).toBe(false);
    expect(spiffeMatches('spiffe://td/identity/id-b', 'td', session)).toBe(false);
    expect(spiffeMatches('spiffe://other/identity/id-a', 'td', session)).toBe(false);
  });

  it('needs a token and a certificate, with the reasons the router gives', async () => {
    await expect(
      authenticateChannel(state, hello(), { cert: cert(), fingerprint: 'fp-live' }),
    ).rejects.toThrow('no token attribute provided');
    await expect(
      authenticateChannel(state, hello('tok'), { cert: undefined, fingerprint: undefined }),
    ).rejects.toThrow('no client certificates provided');
    await expect(
      authenticateChannel(state, hello('bad'), { cert: cert(), fingerprint: 'fp-live' }),
    ).rejects.toThrow(ChannelAuthError);
  });

  it('accepts a live session certificate and refuses an expired one', async () => {
    await expect(
      authenticateChannel(state, hello('tok'), { cert: cert(), fingerprint: 'fp-live' }),
    ).resolves.toEqual({ session });
    await expect(
      authenticateChannel(state, hello('tok'), { cert: cert(), fingerprint: 'fp-old' }),
    ).rejects.toThrow('api session certificate expired');
  });

  it('accepts a SPIFFE certificate only while it is valid', async () => {
    const uri = 'URI:spiffe://td/identity/id-a';
    await expect(
      authenticateChannel(state, hello('tok'), { cert: cert(uri), fingerprint: 'x' }),
    ).resolves.toEqual({ session });
    await expect(
      authenticateChannel(state, hello('tok'), {
        cert: cert(uri, new Date(900_000)),
        fingerprint: 'x',
      }),
    ).rejects.toThrow('not valid for this api session');
  });
});

describe('SPIFFE ids of an OIDC channel (connections.go verifySpiffId)', () => {
  it('needs /identity/*/apiSession/<z_asid>[/apiSessionCertificate/*], any trust domain or identity', () => {
    expect(verifySpiffeId('spiffe://td/identity/id-a/apiSession/as1', 'as1')).toBe(true);
    expect(verifySpiffeId('spiffe://x/identity/other/apiSession/as1', 'as1')).toBe(true);
    expect(
      verifySpiffeId('spiffe://td/identity/id-a/apiSession/as1/apiSessionCertificate/c9', 'as1'),
    ).toBe(true);
    expect(verifySpiffeId('spiffe://td/identity/id-a', 'as1')).toBe(false);
    expect(verifySpiffeId('spiffe://td/identity/id-a/apiSession/as2', 'as1')).toBe(false);
    expect(verifySpiffeId('spiffe://td/identity/id-a/apiSession/as1/other/c9', 'as1')).toBe(false);
    expect(verifySpiffeId('spiffe://td/identity/id-a/session/as1', 'as1')).toBe(false);
    expect(verifySpiffeId('https://td/identity/id-a/apiSession/as1', 'as1')).toBe(false);
  });
});
