/**
 * The hint a first-time visitor gets: what to do, and how long to wait between pixels. Remembered
 * as seen (in localStorage) once dismissed, or once the player has placed a pixel. Pure.
 */
import type { KeyValueStore } from './auth';
import { formatDurationWords } from './time';

export const HINT_SEEN_KEY = 'place.hintSeen';

/** What to do, in one line. */
export const HINT_STEPS = 'Pick a pixel, pick a colour, press Place.';

/** The cooldown in words; null while the server has not said it yet (before its hello). */
export function cooldownLine(cooldownMs: number | null): string {
  if (cooldownMs === null) return '';
  if (cooldownMs <= 0) return 'No waiting between pixels here.';
  return `One pixel every ${formatDurationWords(cooldownMs)}.`;
}

/** Whether this browser has seen the hint (storage blocked: not remembered, shown every visit). */
export function hintSeen(store: KeyValueStore | null): boolean {
  try {
    return store?.getItem(HINT_SEEN_KEY) === '1';
  } catch {
    return false;
  }
}

export function rememberHintSeen(store: KeyValueStore | null): void {
  try {
    store?.setItem(HINT_SEEN_KEY, '1');
  } catch {
    // storage blocked: gone for this visit only
  }
}
