import { describe, expect, it } from 'vitest';
import {
  agoLabel,
  frameUrl,
  historyListUrl,
  nextFrame,
  parseFrames,
  playFrom,
  speedLabel,
  typicalInterval,
} from '../src/lib/history';
import { readPrefs, REMINDER_KEY } from '../src/lib/extras.svelte';

describe('the history frames', () => {
  it('reads the frame list, sorted, without repeats or junk', () => {
    expect(parseFrames({ frames: [30, 10, 20, 20, 'x', -1, 1.5] })).toEqual([10, 20, 30]);
    expect(parseFrames({ frames: [] })).toEqual([]);
    expect(() => parseFrames({ error: 'no' })).toThrow(/no frame list/);
    expect(() => parseFrames(null)).toThrow();
  });

  it('knows the usual gap between frames, despite an outage', () => {
    expect(typicalInterval([0, 10_000, 20_000, 30_000, 600_000])).toBe(10_000);
    expect(typicalInterval([5])).toBe(0);
  });

  it('says speeds against the event itself', () => {
    expect(speedLabel(5, 10_000)).toBe('50×');
    expect(speedLabel(20, 10_000)).toBe('200×');
    expect(speedLabel(2, 1000)).toBe('2×');
    expect(speedLabel(5, 0)).toBe('5 fps');
  });

  it('plays to the end and starts again from the start', () => {
    expect(nextFrame(0, 3)).toBe(1);
    expect(nextFrame(2, 3)).toBeNull();
    expect(playFrom(2, 3)).toBe(0);
    expect(playFrom(1, 3)).toBe(1);
  });

  it('builds the endpoint URLs and ages', () => {
    expect(historyListUrl()).toBe('/api/history?max=2000');
    expect(frameUrl(1764601200123)).toBe('/api/history/1764601200123.png');
    expect(agoLabel(0, 12_000)).toBe('12 s ago');
    expect(agoLabel(0, 3 * 3_600_000 + 5 * 60_000)).toBe('3 h 5 min ago');
    expect(agoLabel(0, 5 * 86_400_000)).toBe('5 days ago');
  });
});

describe('the reminder settings', () => {
  it('are off until turned on, and read back per browser', () => {
    const m = new Map<string, string>();
    const storage = {
      getItem: (k: string) => m.get(k) ?? null,
      setItem: (k: string, v: string) => void m.set(k, v),
      removeItem: (k: string) => void m.delete(k),
    };
    expect(readPrefs(storage)).toEqual({ notification: false, sound: false });
    expect(readPrefs(null)).toEqual({ notification: false, sound: false });
    m.set(REMINDER_KEY, '{"notification":true,"sound":"yes"}');
    expect(readPrefs(storage)).toEqual({ notification: true, sound: false });
    m.set(REMINDER_KEY, 'garbage');
    expect(readPrefs(storage)).toEqual({ notification: false, sound: false });
  });
});
