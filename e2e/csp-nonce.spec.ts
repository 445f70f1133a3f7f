/**
 * An app whose Content-Security-Policy allows only scripts with its nonce ('strict-dynamic') still
 * gets the page shim, so its WebSockets go through the tunnel rather than out natively.
 */
import { enterApp } from './support/enter-app.ts';
import { expect, test } from './support/fabric.ts';

test("a nonce + 'strict-dynamic' CSP page loads the shim and its WebSocket is tunnelled", async ({
  page,
  zt,
}) => {
  const blocked: string[] = [];
  page.on('console', (m) => {
    if (/Content.Security.Policy|Content-Security-Policy/i.test(m.text())) blocked.push(m.text());
  });
  await enterApp(page, zt, '/csp-nonce');
  const siteBefore = zt.siteRequests.length;

  // The shim is the first element of <head>, carries the page's nonce, and ran.
  const shim = await page.evaluate(() => {
    const el = document.head.firstElementChild as HTMLScriptElement | null;
    const own = document.head.querySelector<HTMLScriptElement>('script:not([src])');
    return {
      src: el?.getAttribute('src'),
      nonceMatches: !!el?.nonce && el.nonce === own?.nonce,
      ran: '__ztShim' in window,
    };
  });
  expect(shim).toEqual({ src: '/__zt/shim.js', nonceMatches: true, ran: true });

  // The page's own socket (opened by its nonced script) echoes through the dark app.
  expect(
    await page.evaluate(() => (window as unknown as { cspSocket: Promise<string> }).cspSocket),
  ).toBe('echo: ping');
  expect(zt.appRequests.some((r) => r.url === '/ws-echo')).toBe(true);
  // Nothing went to the open network for it, and the policy blocked nothing of ours.
  expect(zt.siteRequests.slice(siteBefore).filter((p) => p.startsWith('/ws-echo'))).toEqual([]);
  expect(blocked.filter((t) => t.includes('/__zt/'))).toEqual([]);
});
