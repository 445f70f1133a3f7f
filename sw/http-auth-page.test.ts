import { describe, expect, it } from 'vitest';
import { SIGN_IN_PATH, signInLocation, signInPage } from './http-auth-page.ts';

const PUB = 'https://app.example';

describe('signInLocation', () => {
  it('our page under the reserved prefix, with the URL and realm it shows (never a credential)', () => {
    const loc = new URL(
      signInLocation(PUB, { url: new URL(`${PUB}/basic/page?a=1`), realm: 'probe', failed: false }),
    );
    expect(loc.origin).toBe(PUB);
    expect(loc.pathname).toBe(SIGN_IN_PATH);
    expect(SIGN_IN_PATH.startsWith('/__zt/')).toBe(true);
    expect(Object.fromEntries(loc.searchParams)).toEqual({
      url: `${PUB}/basic/page?a=1`,
      realm: 'probe',
    });
    const failed = new URL(
      signInLocation(PUB, { url: new URL(`${PUB}/x`), realm: 'r', failed: true }),
    );
    expect(failed.searchParams.get('failed')).toBe('1');
  });
});

describe('signInPage', () => {
  const SCRIPT = 'ztHttpAuth("</script><b>");';
  const page = (params: Record<string, string>) =>
    signInPage(new URLSearchParams(params), 'TESTNONCE', SCRIPT);

  it('names the host and the realm, escaped; carries both to its script as form data', async () => {
    const res = page({ url: `${PUB}/basic/page`, realm: '<b>"probe"</b>' });
    expect(res.status).toBe(200);
    const html = await res.text();
    expect(html).toContain('<strong id="host">app.example</strong>');
    expect(html).toContain('<strong id="realm">&lt;b&gt;&quot;probe&quot;&lt;/b&gt;</strong>');
    expect(html).toContain('data-realm="&lt;b&gt;&quot;probe&quot;&lt;/b&gt;"');
    expect(html).not.toContain('<b>"probe"</b>');
    expect(html).toContain(`data-target="${PUB}/basic/page"`);
  });

  it('inlines its script with the nonce; a `</script>` inside cannot end the element', async () => {
    const html = await page({ url: `${PUB}/x`, realm: 'r' }).text();
    expect(html).toContain('<script nonce="TESTNONCE">ztHttpAuth("<\\/script><b>");</script>');
    expect(html.match(/<\/script>/g)).toHaveLength(1);
  });

  it('says when what was entered was not accepted', async () => {
    expect(await page({ url: `${PUB}/x`, realm: 'r', failed: '1' }).text()).toContain(
      'were not accepted',
    );
    expect(await page({ url: `${PUB}/x`, realm: 'r' }).text()).not.toContain('were not accepted');
  });

  it('a policy that loads nothing, submits no form and only the app may frame it; not stored', () => {
    const res = page({ url: `${PUB}/x`, realm: 'r' });
    const csp = res.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("form-action 'none'");
    expect(csp).toContain("frame-ancestors 'self'");
    expect(res.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(csp).toContain("script-src 'nonce-TESTNONCE'");
    expect(res.headers.get('cache-control')).toBe('no-store');
    expect(res.headers.get('referrer-policy')).toBe('no-referrer');
  });

  it('has no form a browser could submit to a network', async () => {
    const html = await page({ url: `${PUB}/x`, realm: 'r' }).text();
    expect(html).not.toMatch(/<form[^>]*(action|method)=/);
    // Nothing from anywhere: no external script, style, image or font.
    expect(html).not.toMatch(/\s(src|href)="(?!data:)/);
  });

  it('400 without an http(s) URL to return to', () => {
    expect(page({ realm: 'r' }).status).toBe(400);
    expect(page({ url: 'javascript:alert(1)', realm: 'r' }).status).toBe(400);
    expect(page({ url: 'not a url', realm: 'r' }).status).toBe(400);
  });
});
