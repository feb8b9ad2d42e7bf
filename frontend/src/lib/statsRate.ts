/**
 * Figures for the stats page (/stats) from successive `GET /api/stats` answers: placements per
 * second as the rise of the `placements` total over a sliding window of polls, and number
 * formatting.
 */

interface Reading {
  atMs: number;
  placements: number;
}

export class RateWindow {
  private readings: Reading[] = [];

  constructor(private readonly windowMs = 10_000) {}

  /** Add a poll's total; returns the rate over the window (null until two polls apart). */
  add(atMs: number, placements: number): number | null {
    const last = this.readings.at(-1);
    // a smaller total (a new event, a Redis restored from an older backup) starts over
    if (last && (placements < last.placements || atMs < last.atMs)) this.readings = [];
    this.readings.push({ atMs, placements });
    while (this.readings.length > 2 && atMs - this.readings[1].atMs >= this.windowMs) {
      this.readings.shift();
    }
    return this.rate();
  }

  /** Placements per second between the oldest and newest reading kept. */
  rate(): number | null {
    const first = this.readings[0];
    const last = this.readings.at(-1);
    if (!first || !last || last.atMs <= first.atMs) return null;
    return ((last.placements - first.placements) * 1000) / (last.atMs - first.atMs);
  }
}

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** 1234567 → "1,234,567"; null (not known yet) → "–". */
export function formatCount(n: number | null | undefined): string {
  return typeof n === 'number' && Number.isFinite(n) ? whole.format(n) : '–';
}

/** A rate with one decimal below 10 a second, whole above. */
export function formatRate(r: number | null): string {
  if (r === null || !Number.isFinite(r)) return '–';
  return r < 10 ? r.toFixed(1) : whole.format(r);
}
