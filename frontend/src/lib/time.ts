/** Time on the server's clock, and how to say durations and moments to players. Pure. */

/**
 * The server states times as Unix ms on its own clock. A player's clock can be off by minutes, so the
 * offset is estimated from `placed`: at that moment the server's clock read next_place_at_ms minus the
 * cooldown. Until then the local clock is used as is.
 */
export class ServerClock {
  private offsetMs = 0;
  constructor(private readonly localNow: () => number = Date.now) {}

  now(): number {
    return this.localNow() + this.offsetMs;
  }

  /** Learn from a `placed` (answered just now) with the cooldown in force. */
  observePlaced(nextPlaceAtMs: number, cooldownMs: number): void {
    if (cooldownMs <= 0 || nextPlaceAtMs <= 0) return;
    this.offsetMs = nextPlaceAtMs - cooldownMs - this.localNow();
  }

  get offset(): number {
    return this.offsetMs;
  }
}

/** Milliseconds until `atMs` on the server's clock, never negative, never more than `capMs` (if > 0). */
export function remainingMs(atMs: number, serverNow: number, capMs = 0): number {
  const left = Math.max(0, atMs - serverNow);
  return capMs > 0 ? Math.min(left, capMs) : left;
}

/** A countdown: `0:09`, `4:59`, `1:02:03` (rounded up, so 0:00 only when it is over). */
export function formatCountdown(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/** A duration in words for screen readers and toasts: "4 minutes 59 seconds". */
export function formatDurationWords(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const parts: string[] = [];
  if (h) parts.push(`${h} hour${h === 1 ? '' : 's'}`);
  if (m) parts.push(`${m} minute${m === 1 ? '' : 's'}`);
  if (s || parts.length === 0) parts.push(`${s} second${s === 1 ? '' : 's'}`);
  return parts.join(' ');
}

/** When something happened, relative to now: "just now", "5 min ago", "3 h ago", else a date. */
export function formatAgo(atMs: number, nowMs: number): string {
  const s = Math.round((nowMs - atMs) / 1000);
  if (s < 10) return 'just now';
  if (s < 60) return `${s} s ago`;
  const m = Math.round(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.round(m / 60);
  if (h < 24) return `${h} h ago`;
  return new Date(atMs).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

/** A long span, coarsely: "3 days 4 hours", "2 hours 5 minutes", "4 minutes 59 seconds". */
export function formatSpan(ms: number): string {
  const total = Math.max(0, Math.ceil(ms / 1000));
  const d = Math.floor(total / 86_400);
  const h = Math.floor((total % 86_400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const plural = (n: number, unit: string) => `${n} ${unit}${n === 1 ? '' : 's'}`;
  if (d > 0) return h ? `${plural(d, 'day')} ${plural(h, 'hour')}` : plural(d, 'day');
  if (h > 0) return m ? `${plural(h, 'hour')} ${plural(m, 'minute')}` : plural(h, 'hour');
  return formatDurationWords(ms);
}

/** A moment in the player's own locale and time zone: "3 Dec 2025, 14:05". */
export function formatMoment(atMs: number, locale?: string, timeZone?: string): string {
  return new Date(atMs).toLocaleString(locale, { dateStyle: 'medium', timeStyle: 'short', timeZone });
}
