import { describe, expect, it } from 'vitest';
import { watchForUpdate } from './update-notice.ts';

function container(controller: unknown) {
  const listeners: (() => void)[] = [];
  return {
    controller,
    addEventListener: (_: 'controllerchange', l: () => void) => listeners.push(l),
    fire: () => {
      for (const l of listeners) l();
    },
  };
}

describe('watchForUpdate', () => {
  it('tells once when a new worker replaces the one that controlled the page', () => {
    const c = container({ scriptURL: '/sw.js' });
    let told = 0;
    watchForUpdate(c, () => told++);
    expect(told).toBe(0);
    c.fire();
    c.fire();
    expect(told).toBe(1);
  });

  it('stays quiet on a first registration (no controller at load)', () => {
    const c = container(null);
    let told = 0;
    watchForUpdate(c, () => told++);
    c.fire();
    expect(told).toBe(0);
  });
});
