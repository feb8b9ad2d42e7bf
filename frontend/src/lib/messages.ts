/** What to tell a player about the server's error codes. Pure. */
import { formatDurationWords, formatMoment, formatSpan } from './time';

export interface ErrorText {
  title: string;
  /** The server's own message, when it adds something. */
  detail: string;
}

const TITLES: Record<string, string> = {
  cooldown: 'Not yet: your cooldown is still running.',
  out_of_bounds: 'That pixel is outside the canvas.',
  bad_color: 'That colour is not in the palette.',
  unauthenticated: 'Sign in to place pixels.',
  token_expired: 'Your sign-in had expired; it is being renewed. Place again in a moment.',
  banned: 'Your account may not place pixels.',
  closed: 'The canvas is closed for now.',
  bad_message: 'The server did not understand that request.',
  rate_limited: 'Too many requests: slow down a little.',
  unavailable: 'The server is busy; try again in a moment.',
  timeout: 'No answer from the server; your pixel was not confirmed.',
  disconnected: 'The connection dropped before the server answered.',
};

/** What the server says with `banned` when it gives no reason of its own. */
const GENERIC_BAN_MESSAGES = ['you are banned from placing pixels.', 'banned'];

/**
 * Text for an `error` frame (or a client-side failure with the same shape). `retryInMs`: how long
 * until `retry_at_ms` (with `banned`, absent means the ban never ends); `nowMs` is the local clock.
 */
export function errorText(code: string, message: string, retryInMs?: number, nowMs = Date.now()): ErrorText {
  let title = TITLES[code] ?? `The server refused: ${code}.`;
  if (code === 'cooldown' && retryInMs !== undefined && retryInMs > 0) {
    title = `Not yet: you can place again in ${formatDurationWords(retryInMs)}.`;
  }
  if (code === 'banned') return { title, detail: banDetail(message, retryInMs, nowMs) };
  const detail = asSentence(message);
  return { title, detail: detail.toLowerCase() !== title.toLowerCase() ? detail : '' };
}

/** A server's reason as the page says things: a sentence ("the token has expired" -> "The token has expired."). */
export function asSentence(message: string): string {
  const text = message.trim();
  if (!text) return '';
  return text[0].toUpperCase() + text.slice(1) + (/[.!?…]$/.test(text) ? '' : '.');
}

/** "Reason: spamming. The ban ends on 3 Dec 2025, 14:05 (in 2 hours)." / "... The ban is permanent." */
export function banDetail(message: string, retryInMs: number | undefined, nowMs = Date.now()): string {
  const reason = message.trim();
  const parts: string[] = [];
  if (reason && !GENERIC_BAN_MESSAGES.includes(reason.toLowerCase())) {
    parts.push(`Reason: ${reason}${/[.!?]$/.test(reason) ? '' : '.'}`);
  }
  if (retryInMs === undefined) parts.push('The ban is permanent.');
  else parts.push(`The ban ends on ${formatMoment(nowMs + retryInMs)} (in ${formatSpan(retryInMs)}).`);
  return parts.join(' ');
}
