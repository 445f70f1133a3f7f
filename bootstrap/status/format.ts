/** Short, readable numbers for the status page. */

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

export function formatBytes(n: number): string {
  let value = Math.max(0, n);
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0
    ? `${Math.round(value)} B`
    : `${value.toFixed(value < 10 ? 1 : 0)} ${UNITS[unit]}`;
}

export const formatRate = (bytesPerSec: number) => `${formatBytes(bytesPerSec)}/s`;

/** "2 h 05 min", "4 min 09 s", "12 s"; a negative span reads as "0 s". */
export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.floor(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const two = (n: number) => String(n).padStart(2, '0');
  if (d > 0) return `${d} d ${two(h)} h`;
  if (h > 0) return `${h} h ${two(m)} min`;
  if (m > 0) return `${m} min ${two(s)} s`;
  return `${s} s`;
}

/** "in 4 min 09 s" or "expired 12 s ago". */
export function countdown(until: number, now: number): string {
  return until >= now
    ? `in ${formatDuration(until - now)}`
    : `expired ${formatDuration(now - until)} ago`;
}

/** "12 s ago". */
export const ago = (at: number, now: number) => `${formatDuration(now - at)} ago`;

export const clockTime = (at: number) => new Date(at).toLocaleTimeString();
