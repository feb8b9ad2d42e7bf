/** What to tell a player about the server's error codes. Pure. */
import { formatDurationWords } from './time';

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
  banned: 'Your account may not place pixels.',
  closed: 'The canvas is closed for now.',
  bad_message: 'The server did not understand that request.',
  rate_limited: 'Too many requests: slow down a little.',
  unavailable: 'The server is busy; try again in a moment.',
  timeout: 'No answer from the server; your pixel was not confirmed.',
  disconnected: 'The connection dropped before the server answered.',
};

/** Text for an `error` frame (or a client-side failure with the same shape). */
export function errorText(code: string, message: string, retryInMs?: number): ErrorText {
  let title = TITLES[code] ?? `The server refused: ${code}.`;
  if (code === 'cooldown' && retryInMs !== undefined && retryInMs > 0) {
    title = `Not yet: you can place again in ${formatDurationWords(retryInMs)}.`;
  }
  const detail = message && message.trim().toLowerCase() !== title.toLowerCase() ? message.trim() : '';
  return { title, detail };
}
