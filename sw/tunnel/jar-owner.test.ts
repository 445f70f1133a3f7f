import { describe, expect, it } from 'vitest';
import { ensureJarOwner, JAR_OWNER_KEY } from './jar-owner.ts';

function memoryStore(initial: Record<string, unknown> = {}) {
  const rows = new Map(Object.entries(initial));
  return {
    rows,
    get: async (key: string) => rows.get(key),
    set: async (key: string, value: unknown) => void rows.set(key, value),
  };
}

describe('ensureJarOwner', () => {
  it("wipes the previous identity's app session when another identity signs in", async () => {
    const store = memoryStore({ [JAR_OWNER_KEY]: 'alice-id', 'zt-cookie-jar': 'alice' });
    const wiped = await ensureJarOwner('bob-id', store, async () => {
      store.rows.delete('zt-cookie-jar');
    });
    expect(wiped).toBe(true);
    expect(store.rows.has('zt-cookie-jar')).toBe(false);
    expect(store.rows.get(JAR_OWNER_KEY)).toBe('bob-id');
  });

  it('keeps the session of the same identity (a new login of the same person)', async () => {
    const store = memoryStore({ [JAR_OWNER_KEY]: 'alice-id' });
    let forgot = false;
    expect(
      await ensureJarOwner('alice-id', store, async () => {
        forgot = true;
      }),
    ).toBe(false);
    expect(forgot).toBe(false);
  });

  it('wipes a session of unknown owner (left from before, or the owner row removed)', async () => {
    const store = memoryStore({ 'zt-cookie-jar': 'someone' });
    let forgot = false;
    expect(
      await ensureJarOwner('bob-id', store, async () => {
        forgot = true;
      }),
    ).toBe(true);
    expect(forgot).toBe(true);
  });

  it('does nothing while nobody is signed in', async () => {
    const store = memoryStore({ [JAR_OWNER_KEY]: 'alice-id' });
    expect(await ensureJarOwner(undefined, store, async () => {})).toBe(false);
    expect(store.rows.get(JAR_OWNER_KEY)).toBe('alice-id');
  });

  it('records the owner only after the wipe succeeded (a failed wipe is tried again)', async () => {
    const store = memoryStore({ [JAR_OWNER_KEY]: 'alice-id' });
    await expect(
      ensureJarOwner('bob-id', store, async () => {
        throw new Error('quota');
      }),
    ).rejects.toThrow('quota');
    expect(store.rows.get(JAR_OWNER_KEY)).toBe('alice-id');
  });
});
