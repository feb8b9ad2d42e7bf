/**
 * Live player count from `GET /api/stats`, polled while the page is visible.
 *
 * The pods' figures are at most about 1 s old (each pod reports every second), so how far the count
 * lags is mostly how often we ask. While few play, every second: a second player shows within a
 * second or two. As the count grows, less often, up to every 5 s from 250 players: one player more
 * or less no longer shows, and a crowd's polls stay what they were (a page asks at most once every
 * 5 s). So the pods answer at most about 50 more requests a second than with a fixed 5 s.
 * `refreshSoon` (the page's own connection just opened) asks again once the pods have counted it.
 */
import { fetchStats } from './api';

export const MIN_POLL_MS = 1000;
export const MAX_POLL_MS = 5000;
/** A new connection is in the pods' figures this long after it opened (they report every second). */
export const COUNTED_AFTER_MS = 1200;

/** How long to wait before asking again, for the last count seen (null: none yet). */
export function pollDelayMs(ccu: number | null): number {
  if (ccu === null) return MIN_POLL_MS;
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Math.round(ccu * 20)));
}

/** What the poller needs of `document`: whether the page is visible, and when that changes. */
export interface Visibility {
  readonly visibilityState: DocumentVisibilityState;
  addEventListener(type: 'visibilitychange', listener: () => void): void;
  removeEventListener(type: 'visibilitychange', listener: () => void): void;
}

export interface StatsPollerOptions {
  fetch?: (signal: AbortSignal) => Promise<{ ccu?: unknown }>;
  visibility?: Visibility;
}

export class StatsPoller {
  ccu = $state<number | null>(null);
  private timer: ReturnType<typeof setTimeout> | null = null;
  /** When the scheduled poll is due (Date.now() ms). */
  private dueAt = Infinity;
  private controller: AbortController | null = null;
  private stopped = true;
  private busy = false;
  /** A refresh was asked for while a poll was under way: poll again as soon as it ends. */
  private again = false;
  private readonly fetch: (signal: AbortSignal) => Promise<{ ccu?: unknown }>;
  private readonly visibility: Visibility;

  constructor(options: StatsPollerOptions = {}) {
    this.fetch = options.fetch ?? fetchStats;
    this.visibility = options.visibility ?? document;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.visibility.addEventListener('visibilitychange', this.onVisibility);
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    this.visibility.removeEventListener('visibilitychange', this.onVisibility);
    this.cancelTimer();
    this.controller?.abort();
  }

  /** Ask again `afterMs` from now, unless a poll is due sooner (the page's connection just opened). */
  refreshSoon(afterMs = COUNTED_AFTER_MS): void {
    if (this.stopped) return;
    if (Date.now() + afterMs >= this.dueAt) return;
    this.schedule(afterMs);
  }

  private schedule(ms: number): void {
    this.cancelTimer();
    this.dueAt = Date.now() + ms;
    this.timer = setTimeout(() => void this.poll(), ms);
  }

  private cancelTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.dueAt = Infinity;
  }

  private async poll(): Promise<void> {
    this.cancelTimer();
    if (this.busy) {
      this.again = true;
      return;
    }
    if (this.stopped || this.visibility.visibilityState === 'hidden') return;
    this.busy = true;
    this.again = false;
    this.controller = new AbortController();
    try {
      const stats = await this.fetch(this.controller.signal);
      if (typeof stats.ccu === 'number') this.ccu = stats.ccu;
    } catch {
      // keep the last figure; the connection status tells about outages
    } finally {
      this.busy = false;
    }
    if (this.stopped || this.timer !== null) return;
    this.schedule(this.again ? 0 : pollDelayMs(this.ccu));
  }

  private readonly onVisibility = (): void => {
    if (this.visibility.visibilityState === 'visible' && this.timer === null && !this.busy) void this.poll();
  };
}
