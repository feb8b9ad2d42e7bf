/**
 * Firebase sign-in, the parts that need neither the SDK nor the network (so they are in the main
 * bundle and unit-tested): the settings from `GET /api/config`, when to refresh an ID token, the
 * email-link URL, and Firebase's error codes in words. The SDK-bound provider is
 * `firebaseProvider.ts`, loaded lazily only when the server names Firebase.
 */

/** What the page needs to start Firebase: the web config for initializeApp, and the emulator if any. */
export interface FirebaseSettings {
  /** Every string field of `auth` except `provider` and `emulatorUrl` (apiKey, authDomain, projectId, appId, ...). */
  options: Record<string, string>;
  /** `http://host:port` of the Auth emulator (tests and local runs); null in production. */
  emulatorUrl: string | null;
}

/** The apiKey used with the emulator when the server sends none (the emulator accepts any). */
export const EMULATOR_API_KEY = 'demo-key';

/** localStorage: the address a sign-in link was sent to, so opening it on this device needs no typing. */
export const EMAIL_KEY = 'place.emailForSignIn';
/** sessionStorage: a Google sign-in went by redirect (a popup was blocked); its result waits on return. */
export const REDIRECT_KEY = 'place.signInRedirect';

/** `GET /api/config`'s `auth` object -> settings, or why they cannot be used. */
export function firebaseSettings(config: unknown): FirebaseSettings | { error: string } {
  const auth = typeof config === 'object' && config !== null ? (config as { auth?: unknown }).auth : undefined;
  if (typeof auth !== 'object' || auth === null) return { error: 'The server sent no Firebase settings.' };
  const options: Record<string, string> = {};
  let emulatorUrl: string | null = null;
  for (const [key, value] of Object.entries(auth)) {
    if (typeof value !== 'string' || value === '') continue;
    if (key === 'emulatorUrl') emulatorUrl = value.replace(/\/+$/, '');
    else if (key !== 'provider') options[key] = value;
  }
  if (!options.projectId) return { error: 'The server’s Firebase settings have no projectId.' };
  if (!options.apiKey) {
    if (!emulatorUrl) return { error: 'The server’s Firebase settings have no apiKey.' };
    options.apiKey = EMULATOR_API_KEY;
  }
  // Firebase's own default; popups and redirects need one.
  options.authDomain ??= `${options.projectId}.firebaseapp.com`;
  return { options, emulatorUrl };
}

// ---------------------------------------------------------------- ID token refresh

/** The times of an ID token, in seconds since the epoch (its `iat` and `exp` claims). */
export interface TokenTimes {
  iat: number;
  exp: number;
}

/** `iat` and `exp` of a JWT (not verified: the server does that), or null if it is not one. */
export function tokenTimes(token: string): TokenTimes | null {
  const part = token.split('.')[1];
  if (!part) return null;
  try {
    const b64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const json = atob(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
    const claims = JSON.parse(json) as { iat?: unknown; exp?: unknown };
    if (typeof claims.iat !== 'number' || typeof claims.exp !== 'number' || claims.exp <= claims.iat) return null;
    return { iat: claims.iat, exp: claims.exp };
  } catch {
    return null;
  }
}

/** Refresh this long before a token expires (Firebase ID tokens live an hour). */
export const REFRESH_LEAD_MS = 5 * 60_000;
/** Never sooner than this after getting a token, so a wrong clock cannot make a refresh loop. */
export const MIN_REFRESH_DELAY_MS = 30_000;
/** A token whose times cannot be read is refreshed after this. */
export const FALLBACK_REFRESH_DELAY_MS = 45 * 60_000;
/** After a failed refresh (offline), try again this much later. */
export const RETRY_REFRESH_DELAY_MS = 30_000;

/**
 * How long after `nowMs` to refresh a token: `leadMs` before it expires by the local clock, but
 * never later than its lifetime from now, nor sooner than `minMs`.
 *
 * The SDK never hands out a token it believes expired (it times tokens from when it got them, so it
 * is not fooled by a wrong clock). A token that looks expired here, or issued in the future, means
 * the local clock is off: then its lifetime is counted from now instead.
 */
export function refreshDelayMs(
  t: TokenTimes,
  nowMs: number,
  leadMs = REFRESH_LEAD_MS,
  minMs = MIN_REFRESH_DELAY_MS,
): number {
  const lifetimeMs = (t.exp - t.iat) * 1000;
  const leftByClock = t.exp * 1000 - nowMs;
  const clockOff = leftByClock <= 0 || t.iat * 1000 - nowMs > leadMs;
  const left = clockOff ? lifetimeMs : Math.min(leftByClock, lifetimeMs);
  const lead = Math.min(leadMs, lifetimeMs / 2); // short-lived tokens: refresh at half-life
  return Math.max(minMs, Math.round(left - lead));
}

/**
 * Keeps an ID token fresh: `schedule(token)` on every new token (the SDK's onIdTokenChanged), which
 * calls `refresh()` (a forced getIdToken) a while before it expires. Timers sleep with the device
 * and are held back in hidden tabs, so `wake()` (page visible again, back online) refreshes at once
 * when it is due. A failed refresh is tried again after 30 s.
 */
export class TokenRefresher {
  private timer: ReturnType<typeof setTimeout> | null = null;
  private dueAt = 0;

  constructor(
    private readonly refresh: () => Promise<string | null>,
    private readonly now: () => number = Date.now,
  ) {}

  /** The time (local ms) of the next refresh, or 0 when none is planned. */
  get due(): number {
    return this.timer === null ? 0 : this.dueAt;
  }

  schedule(token: string | null): void {
    this.cancel();
    if (!token) return;
    const times = tokenTimes(token);
    this.arm(times ? refreshDelayMs(times, this.now()) : FALLBACK_REFRESH_DELAY_MS);
  }

  wake(): void {
    if (this.timer !== null && this.now() >= this.dueAt) void this.fire();
  }

  cancel(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private arm(delayMs: number): void {
    this.cancel();
    this.dueAt = this.now() + delayMs;
    this.timer = setTimeout(() => void this.fire(), delayMs);
  }

  private async fire(): Promise<void> {
    this.cancel();
    try {
      const token = await this.refresh();
      // The SDK's listener normally schedules the new token too; this covers a refresh it did not report.
      if (token && this.timer === null) this.schedule(token);
    } catch {
      this.arm(RETRY_REFRESH_DELAY_MS);
    }
  }
}

// ---------------------------------------------------------------- email link

/** The query parameters a Firebase email link adds to the page's URL (the action handler's redirect). */
const EMAIL_LINK_PARAMS = ['apiKey', 'oobCode', 'mode', 'lang', 'continueUrl', 'tenantId'];

/** True when `href` carries an email sign-in link (mode=signIn with an oobCode). The SDK has the last word. */
export function looksLikeEmailLink(href: string): boolean {
  try {
    const q = new URL(href).searchParams;
    return q.get('mode') === 'signIn' && !!q.get('oobCode');
  } catch {
    return false;
  }
}

/** `href` without the email link's parameters; the view (`?x=&y=&zoom=`) and anything else stay. */
export function cleanEmailLinkUrl(href: string): string {
  const url = new URL(href);
  const kept = new URLSearchParams();
  for (const [key, value] of url.searchParams) if (!EMAIL_LINK_PARAMS.includes(key)) kept.append(key, value);
  const search = kept.toString();
  return `${url.origin}${url.pathname}${search ? `?${search}` : ''}${url.hash}`;
}

/** An email address as typed, trimmed; an error message when it is clearly not one. */
export function checkEmail(raw: string): { email: string } | { error: string } {
  const email = raw.trim();
  if (!email) return { error: 'Type your email address.' };
  if (!/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email) && !/^[^\s@]+@localhost$/.test(email)) {
    return { error: 'That does not look like an email address.' };
  }
  return { email };
}

// ---------------------------------------------------------------- errors in words

/** Errors that mean "nothing happened, the player changed their mind": said softly. */
export const CANCELLED_CODES = new Set(['auth/popup-closed-by-user', 'auth/cancelled-popup-request', 'auth/user-cancelled']);
/** Errors after which a Google sign-in is tried again by redirect. */
export const POPUP_BLOCKED_CODES = new Set(['auth/popup-blocked', 'auth/operation-not-supported-in-environment']);

const FIREBASE_ERRORS: Record<string, string> = {
  'auth/expired-action-code': 'That link has expired; ask for a new one.',
  'auth/invalid-action-code': 'That link has expired or was already used; ask for a new one.',
  'auth/invalid-email': 'That does not look like an email address.',
  'auth/missing-email': 'Type your email address.',
  'auth/popup-closed-by-user': 'The Google window was closed before signing in.',
  'auth/cancelled-popup-request': 'The Google window was closed before signing in.',
  'auth/user-cancelled': 'The Google sign-in was cancelled.',
  'auth/network-request-failed': 'Could not reach the sign-in service. Check your connection and try again.',
  'auth/too-many-requests': 'Too many attempts. Wait a few minutes and try again.',
  'auth/quota-exceeded': 'Too many sign-in emails were sent today. Try Google, or try again later.',
  'auth/user-disabled': 'This account has been disabled.',
  'auth/account-exists-with-different-credential':
    'This email address already signs in another way: use the email link, or the method you used before.',
  'auth/unauthorized-domain': 'Sign-in is not set up for this web address (its domain is not authorized in Firebase).',
  'auth/unauthorized-continue-uri':
    'Sign-in links are not set up for this web address (its domain is not authorized in Firebase).',
  'auth/invalid-continue-uri': 'Sign-in links are not set up for this web address.',
  'auth/operation-not-allowed': 'This way of signing in is not enabled for this game.',
  'auth/invalid-api-key': 'Sign-in is misconfigured on this server (its Firebase API key is not valid).',
  'auth/api-key-not-valid.-please-pass-a-valid-api-key.':
    'Sign-in is misconfigured on this server (its Firebase API key is not valid).',
  'auth/web-storage-unsupported': 'This browser blocks the storage sign-in needs (private mode?). Try another browser.',
  'auth/internal-error': 'The sign-in service had a problem. Try again.',
};

/** A Firebase error (or anything thrown) in words for the player. */
export function firebaseErrorText(err: unknown, context: 'email-link' | 'other' = 'other'): string {
  const code = errorCode(err);
  if (code === 'auth/invalid-email' && context === 'email-link') {
    return 'That is not the address the link was sent to. Type the one you used, or ask for a new link.';
  }
  if (code && FIREBASE_ERRORS[code]) return FIREBASE_ERRORS[code];
  if (code) return `Sign-in failed (${code.replace(/^auth\//, '')}). Try again.`;
  if (err instanceof Error && err.message) return err.message;
  return 'Sign-in failed. Try again.';
}

/** The `code` of a Firebase error (`auth/...`), or null. */
export function errorCode(err: unknown): string | null {
  if (typeof err === 'object' && err !== null && typeof (err as { code?: unknown }).code === 'string') {
    return (err as { code: string }).code;
  }
  return null;
}
