import { describe, expect, it } from 'vitest';
import type { ZitiSession } from '../../shared/ziti/index.ts';
import { FactKeeper, type FactRows, KEPT_FACTS_KEY, keptFactsOf } from './kept-facts.ts';

const rowsOf = () => {
  const map = new Map<string, unknown>();
  const rows: FactRows = {
    get: async (k) => structuredClone(map.get(k)),
    set: async (k, v) => {
      map.set(k, structuredClone(v));
    },
    del: async (k) => {
      map.delete(k);
    },
  };
  return { map, rows };
};

const owner = (id: string, controller = 'https://ctrl.example') => ({
  controller,
  apiSession: { id },
});

const session = (id: string, serviceId = 'svc-1'): ZitiSession => ({
  id,
  token: `token-${id}`,
  type: 'Dial',
  serviceId,
  edgeRouters: [],
});

describe('kept facts', () => {
  it('keeps the CA bundle and Dial sessions of one API session for the next start', async () => {
    const { map, rows } = rowsOf();
    const keeper = new FactKeeper(rows, owner('api-1'));
    await keeper.caBundle(['CA']);
    await keeper.session('app', session('s1'));
    await keeper.session('other', session('s2', 'svc-2'));
    await keeper.forgetSession('other');
    expect(keptFactsOf(map.get(KEPT_FACTS_KEY), owner('api-1'))).toEqual({
      apiSessionId: 'api-1',
      controller: 'https://ctrl.example',
      caBundle: ['CA'],
      sessions: { app: session('s1') },
    });
  });

  it('never gives one API session (or controller) the facts of another', async () => {
    const { map, rows } = rowsOf();
    await new FactKeeper(rows, owner('api-1')).session('app', session('s1'));
    const row = map.get(KEPT_FACTS_KEY);
    expect(keptFactsOf(row, owner('api-2'))).toBeUndefined();
    expect(keptFactsOf(row, owner('api-1', 'https://other.example'))).toBeUndefined();
    expect(keptFactsOf(row, owner('api-1'))).toBeDefined();
  });

  it('replaces, never merges, a row of another API session', async () => {
    const { map, rows } = rowsOf();
    await new FactKeeper(rows, owner('api-1')).caBundle(['OLD-CA']);
    await new FactKeeper(rows, owner('api-2')).session('app', session('s2'));
    expect(map.get(KEPT_FACTS_KEY)).toEqual({
      apiSessionId: 'api-2',
      controller: 'https://ctrl.example',
      sessions: { app: session('s2') },
    });
  });

  it('counts a malformed row as none', () => {
    const me = owner('api-1');
    for (const row of [
      undefined,
      null,
      'x',
      { apiSessionId: 'api-1', controller: 'https://ctrl.example' },
      { apiSessionId: 'api-1', controller: 'https://ctrl.example', sessions: {}, caBundle: [1] },
    ])
      expect(keptFactsOf(row, me)).toBeUndefined();
  });

  it('a stopped keeper writes nothing more, and wipes the row when asked', async () => {
    const { map, rows } = rowsOf();
    const keeper = new FactKeeper(rows, owner('api-1'));
    await keeper.caBundle(['CA']);
    const late = keeper.session('app', session('s1'));
    await keeper.stop({ wipe: true });
    await late;
    await keeper.caBundle(['CA2']);
    expect(map.has(KEPT_FACTS_KEY)).toBe(false);
  });
});
