/** Live player count from `GET /api/stats`, polled every few seconds while the page is visible. */
import { fetchStats } from './api';

export class StatsPoller {
  ccu = $state<number | null>(null);
  private timer: ReturnType<typeof setTimeout> | null = null;
  private controller: AbortController | null = null;
  private stopped = true;
  private busy = false;

  constructor(private readonly intervalMs = 5000) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    document.addEventListener('visibilitychange', this.onVisibility);
    void this.poll();
  }

  stop(): void {
    this.stopped = true;
    document.removeEventListener('visibilitychange', this.onVisibility);
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.controller?.abort();
  }

  private async poll(): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.stopped || this.busy || document.visibilityState === 'hidden') return;
    this.busy = true;
    this.controller = new AbortController();
    try {
      const stats = await fetchStats(this.controller.signal);
      if (typeof stats.ccu === 'number') this.ccu = stats.ccu;
    } catch {
      // keep the last figure; the connection status tells about outages
    } finally {
      this.busy = false;
    }
    if (!this.stopped) this.timer = setTimeout(() => void this.poll(), this.intervalMs);
  }

  private readonly onVisibility = (): void => {
    if (document.visibilityState === 'visible' && this.timer === null) void this.poll();
  };
}
