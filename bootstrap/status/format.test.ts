import { describe, expect, it } from 'vitest';
import { countdown, formatBytes, formatDuration } from './format.ts';

describe('format', () => {
  it('bytes', () => {
    expect(formatBytes(0)).toBe('0 B');
    expect(formatBytes(1023)).toBe('1023 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(50 * 1024 * 1024)).toBe('50 MiB');
  });

  it('durations', () => {
    expect(formatDuration(-5)).toBe('0 s');
    expect(formatDuration(12_400)).toBe('12 s');
    expect(formatDuration(249_000)).toBe('4 min 09 s');
    expect(formatDuration(2 * 3600_000 + 5 * 60_000)).toBe('2 h 05 min');
    expect(formatDuration(26 * 3600_000)).toBe('1 d 02 h');
  });

  it('countdowns', () => {
    expect(countdown(70_000, 10_000)).toBe('in 1 min 00 s');
    expect(countdown(10_000, 22_000)).toBe('expired 12 s ago');
  });
});
