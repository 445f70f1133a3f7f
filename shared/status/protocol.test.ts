import { describe, expect, it } from 'vitest';
import { isStatusRequest, STATUS_MESSAGE } from './protocol.ts';

describe('isStatusRequest', () => {
  it('accepts the two operations and nothing else', () => {
    expect(isStatusRequest({ type: STATUS_MESSAGE, op: 'snapshot' })).toBe(true);
    expect(isStatusRequest({ type: STATUS_MESSAGE, op: 'reconnect' })).toBe(true);
    expect(isStatusRequest({ type: STATUS_MESSAGE, op: 'logout' })).toBe(false);
    expect(isStatusRequest({ type: 'zt:logout' })).toBe(false);
    expect(isStatusRequest(null)).toBe(false);
    expect(isStatusRequest('zt-status')).toBe(false);
  });
});
