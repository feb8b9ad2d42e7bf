import { describe, expect, it } from 'vitest';
import { formatCount, formatRate, RateWindow } from '../src/lib/statsRate';

describe('stats page figures', () => {
  it('measures placements per second over a sliding window of polls', () => {
    const w = new RateWindow(10_000);
    expect(w.add(0, 100)).toBeNull();
    expect(w.add(2000, 140)).toBe(20);
    expect(w.add(4000, 140)).toBe(10);
    // after the window has passed, only the recent polls count
    for (let t = 6000; t <= 20_000; t += 2000) w.add(t, 140 + (t - 4000) / 50);
    expect(w.rate()).toBeCloseTo(20, 5);
  });

  it('starts over when the total drops', () => {
    const w = new RateWindow();
    w.add(0, 1000);
    w.add(2000, 1200);
    expect(w.add(4000, 10)).toBeNull();
    expect(w.add(6000, 30)).toBe(10);
  });

  it('formats counts and rates', () => {
    expect(formatCount(1234567)).toBe('1,234,567');
    expect(formatCount(undefined)).toBe('–');
    expect(formatRate(null)).toBe('–');
    expect(formatRate(2.345)).toBe('2.3');
    expect(formatRate(8123.4)).toBe('8,123');
  });
});
