import type { Browser } from '@playwright/test';

/**
 * Used JS heap of the page's service worker, read over CDP (Chromium): the worker is attached as a
 * target and asked for `Runtime.getHeapUsage` through the browser session.
 */
export async function workerHeapUsed(browser: Browser): Promise<number> {
  const cdp = await browser.newBrowserCDPSession();
  try {
    const { targetInfos } = (await cdp.send('Target.getTargets')) as {
      targetInfos: { targetId: string; type: string }[];
    };
    const worker = targetInfos.find((t) => t.type === 'service_worker');
    if (!worker) throw new Error('no service worker target');
    const { sessionId } = (await cdp.send('Target.attachToTarget', {
      targetId: worker.targetId,
      flatten: false,
    })) as { sessionId: string };
    const answer = new Promise<{ usedSize: number }>((resolve) => {
      cdp.on('Target.receivedMessageFromTarget', (event: { message: string }) => {
        const message = JSON.parse(event.message) as { id?: number; result?: { usedSize: number } };
        if (message.id === 1 && message.result) resolve(message.result);
      });
    });
    await cdp.send('Target.sendMessageToTarget', {
      sessionId,
      message: JSON.stringify({ id: 1, method: 'Runtime.getHeapUsage' }),
    });
    const { usedSize } = await answer;
    await cdp.send('Target.detachFromTarget', { sessionId }).catch(() => {});
    return usedSize;
  } finally {
    await cdp.detach().catch(() => {});
  }
}
