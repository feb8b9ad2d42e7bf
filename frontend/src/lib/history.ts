/**
 * The history viewer's logic, pure: frame times from `GET /api/history`, where the slider is,
 * playback speed, and how a frame's time is said. The frames themselves are PNGs at
 * `/api/history/<ms>.png` (cached by the browser for a year: a frame never changes).
 */

/** The most frame times the page asks for: about one per slider pixel on a wide screen. */
export const MAX_LISTED = 2000;
/** Playback speeds, in frames a second. */
export const SPEEDS = [2, 5, 10, 20] as const;

export function historyListUrl(max = MAX_LISTED): string {
  return `/api/history?max=${max}`;
}

export function frameUrl(at: number): string {
  return `/api/history/${at}.png`;
}

/** The frame list an answer holds: finite whole numbers, ascending, no repeats. */
export function parseFrames(body: unknown): number[] {
  const raw = (body as { frames?: unknown } | null)?.frames;
  if (!Array.isArray(raw)) throw new Error('the history answer has no frame list');
  const times = raw.filter((t): t is number => typeof t === 'number' && Number.isInteger(t) && t >= 0);
  times.sort((a, b) => a - b);
  return times.filter((t, i) => i === 0 || t !== times[i - 1]);
}

/** The usual gap between frames (ms): the median, so an outage's gap does not skew it. */
export function typicalInterval(times: readonly number[]): number {
  if (times.length < 2) return 0;
  const gaps = times.slice(1).map((t, i) => t - times[i]);
  gaps.sort((a, b) => a - b);
  return gaps[gaps.length >> 1];
}

/** "60×": how much faster than the event a speed plays (or "5 fps" when unknown). */
export function speedLabel(fps: number, intervalMs: number): string {
  if (intervalMs <= 0) return `${fps} fps`;
  const factor = (fps * intervalMs) / 1000;
  if (factor >= 100) return `${Math.round(factor / 10) * 10}×`;
  return `${Math.round(factor * 10) / 10}×`;
}

/** The next frame when playing; null at the end (playback stops there). */
export function nextFrame(index: number, count: number): number | null {
  return index + 1 < count ? index + 1 : null;
}

/** Where playback starts: from the start when at the end, else where the slider is. */
export function playFrom(index: number, count: number): number {
  return index >= count - 1 ? 0 : index;
}

/** A frame's time for the slider: "Mon 1 Dec, 15:04:05", with the day only when it is not today. */
export function frameLabel(at: number, now = Date.now(), locale?: string): string {
  const d = new Date(at);
  const sameDay = new Date(now).toDateString() === d.toDateString();
  const time = d.toLocaleTimeString(locale, { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (sameDay) return time;
  const day = d.toLocaleDateString(locale, { weekday: 'short', day: 'numeric', month: 'short' });
  return `${day}, ${time}`;
}

/** "3 h 5 min ago" / "12 s ago": how long before now a frame was taken. */
export function agoLabel(at: number, now = Date.now()): string {
  const s = Math.max(0, Math.round((now - at) / 1000));
  if (s < 60) return `${s} s ago`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ago`;
  const h = Math.floor(m / 60);
  if (h < 48) return `${h} h ${m % 60} min ago`;
  return `${Math.floor(h / 24)} days ago`;
}
