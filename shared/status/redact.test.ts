import { describe, expect, it } from 'vitest';
import { diagnosticsReport, scrub } from './redact.ts';

const JWT =
  'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJkZXZlbG9wZXIiLCJleHAiOjE3MDAwMDAwMDB9.c2lnbmF0dXJlLWJ5dGVz';

describe('scrub', () => {
  it('replaces known secrets and JWTs in every string, however deep', () => {
    const out = scrub(
      {
        message: `dial refused for session 5f1c2e9a-token-value with ${JWT}`,
        list: [{ detail: 'cookie probe_session=secret-value was sent' }],
        n: 3,
        ok: true,
        none: null,
      },
      ['5f1c2e9a-token-value', 'secret-value'],
    );
    const text = JSON.stringify(out);
    expect(text).not.toContain('5f1c2e9a-token-value');
    expect(text).not.toContain('secret-value');
    expect(text).not.toContain('eyJ');
    expect(out.n).toBe(3);
    expect(out.ok).toBe(true);
    expect(out.none).toBeNull();
    expect(out.message).toBe('dial refused for session [redacted] with [redacted]');
  });

  it('drops fields whose names say secret', () => {
    const out = scrub({
      sessionToken: 'x',
      cookie: 'a=b',
      privateKey: 'k',
      key: 'k',
      password: 'p',
      Authorization: 'Bearer x',
      name: 'alice',
      keyPair: 'kept: not a secret name on its own',
    }) as Record<string, unknown>;
    expect(Object.keys(out).sort()).toEqual(['keyPair', 'name']);
  });

  it('ignores very short secrets (they would match by chance)', () => {
    expect(scrub({ a: 'abc' }, ['ab'])).toEqual({ a: 'abc' });
  });

  it('replaces the longest secret first when one contains another', () => {
    expect(scrub('x=abcdefgh-long', ['abcdefgh', 'abcdefgh-long'])).toBe('x=[redacted]');
  });
});

describe('diagnosticsReport', () => {
  it('is indented JSON of the page facts and the snapshot, scrubbed', () => {
    const text = diagnosticsReport(
      { routers: [{ url: `wss://r/ws?t=${JWT}` }] },
      { online: true },
      ['sekrit-value'],
    );
    const parsed = JSON.parse(text);
    expect(parsed.report).toBe('zt-browser diagnostics');
    expect(parsed.page).toEqual({ online: true });
    expect(parsed.worker.routers[0].url).toBe('wss://r/ws?t=[redacted]');
    expect(text).toContain('\n  ');
  });
});
