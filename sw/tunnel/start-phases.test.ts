import { describe, expect, it } from 'vitest';
import { StartPhases } from './start-phases.ts';

describe('StartPhases', () => {
  it('keeps the first time of each phase, in order, in whole ms', () => {
    let now = 0;
    const phases = new StartPhases(() => now);
    now = 12.4;
    phases.mark('identity');
    now = 30.6;
    phases.mark('router-channel');
    now = 20;
    phases.mark('services');
    now = 99;
    phases.mark('identity');
    expect(JSON.parse(JSON.stringify({ start: phases }))).toEqual({
      start: { identity: 12, services: 20, 'router-channel': 31 },
    });
  });
});
