// Firebase sign-in, the parts without the SDK or the network: choosing the provider, the settings,
// when a token is refreshed, the email-link URL, errors in words, bans in words.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DevAuthProvider, UnavailableAuthProvider, loadAuthProvider, type AuthProvider } from '../src/lib/auth';
import {
  EMULATOR_API_KEY,
  MIN_REFRESH_DELAY_MS,
  REFRESH_LEAD_MS,
  TokenRefresher,
  checkEmail,
  cleanEmailLinkUrl,
  firebaseErrorText,
  firebaseSettings,
  looksLikeEmailLink,
  refreshDelayMs,
  tokenTimes,
} from '../src/lib/firebaseAuth';
import { banDetail, errorText } from '../src/lib/messages';
import { formatSpan } from '../src/lib/time';

/** An unsigned JWT with these claims (the page never verifies tokens; the server does). */
function jwt(claims: object): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64(claims)}.sig`;
}

const HOUR = 3_600_000;

describe('choosing the provider from /api/config', () => {
  const fakeFirebase = { kind: 'firebase' } as unknown as AuthProvider;

  it('loads nothing for dev, a missing auth field, or a config that could not be fetched', async () => {
    const load = vi.fn();
    for (const config of [{}, { auth: { provider: 'dev' } }, null, { auth: null }]) {
      expect(await loadAuthProvider(config, null, load)).toBeInstanceOf(DevAuthProvider);
    }
    expect(load).not.toHaveBeenCalled();
  });

  it('loads the Firebase chunk only for firebase, and passes it the config', async () => {
    const config = { auth: { provider: 'firebase', projectId: 'p', apiKey: 'k' } };
    const createFirebaseProvider = vi.fn(() => fakeFirebase);
    const load = vi.fn(async () => ({ createFirebaseProvider }));
    expect(await loadAuthProvider(config, null, load)).toBe(fakeFirebase);
    expect(load).toHaveBeenCalledTimes(1);
    expect(createFirebaseProvider).toHaveBeenCalledWith(config, null);
  });

  it('explains itself when the chunk cannot be loaded, or for a provider it does not know', async () => {
    const failing = await loadAuthProvider({ auth: { provider: 'firebase' } }, null, async () => {
      throw new TypeError('Failed to fetch dynamically imported module');
    });
    expect(failing).toBeInstanceOf(UnavailableAuthProvider);
    expect(failing.unavailableReason).toMatch(/could not be loaded/);
    await expect(failing.signIn()).rejects.toThrow(/could not be loaded/);
    expect(await failing.getToken()).toBeNull();
    const other = await loadAuthProvider({ auth: { provider: 'saml' } }, null, vi.fn());
    expect(other.kind).toBe('saml');
    expect(other.unavailableReason).toMatch(/not available/);
  });
});

describe('Firebase settings', () => {
  it('passes every web config field to initializeApp, and keeps the emulator apart', () => {
    const s = firebaseSettings({
      auth: {
        provider: 'firebase',
        projectId: 'demo-place',
        apiKey: 'AIza',
        authDomain: 'place.example.org',
        appId: '1:2:web:3',
        emulatorUrl: 'http://127.0.0.1:9099/',
      },
    });
    expect(s).toEqual({
      options: { projectId: 'demo-place', apiKey: 'AIza', authDomain: 'place.example.org', appId: '1:2:web:3' },
      emulatorUrl: 'http://127.0.0.1:9099',
    });
  });

  it('uses a placeholder apiKey only with the emulator, and Firebase’s default authDomain', () => {
    const s = firebaseSettings({ auth: { provider: 'firebase', projectId: 'demo-place', emulatorUrl: 'http://h:1' } });
    expect(s).toEqual({
      options: { projectId: 'demo-place', apiKey: EMULATOR_API_KEY, authDomain: 'demo-place.firebaseapp.com' },
      emulatorUrl: 'http://h:1',
    });
    expect(firebaseSettings({ auth: { provider: 'firebase', projectId: 'p' } })).toEqual({
      error: expect.stringMatching(/apiKey/),
    });
    expect(firebaseSettings({ auth: { provider: 'firebase', apiKey: 'k' } })).toEqual({
      error: expect.stringMatching(/projectId/),
    });
    expect(firebaseSettings({})).toHaveProperty('error');
  });
});

describe('ID token refresh', () => {
  const now = 1_764_000_000_000;
  const issued = (ageMs: number, lifetimeMs = HOUR) => ({
    iat: (now - ageMs) / 1000,
    exp: (now - ageMs + lifetimeMs) / 1000,
  });

  it('reads iat and exp from a token', () => {
    expect(tokenTimes(jwt({ iat: 100, exp: 3700, sub: 'u' }))).toEqual({ iat: 100, exp: 3700 });
    expect(tokenTimes('not-a-token')).toBeNull();
    expect(tokenTimes('a.b.c')).toBeNull();
    expect(tokenTimes(jwt({ iat: 100 }))).toBeNull();
  });

  it('refreshes five minutes before expiry, by the local clock', () => {
    expect(refreshDelayMs(issued(0), now)).toBe(HOUR - REFRESH_LEAD_MS);
    // A token restored after a reload, 40 minutes old: 15 minutes from now.
    expect(refreshDelayMs(issued(40 * 60_000), now)).toBe(15 * 60_000);
    // Almost expired (the SDK still holds it): soon, but not in a loop.
    expect(refreshDelayMs(issued(58 * 60_000), now)).toBe(MIN_REFRESH_DELAY_MS);
  });

  it('does not trust a clock that disagrees with a token the SDK calls valid', () => {
    // The local clock is two hours fast: the fresh token looks expired; count its lifetime from now.
    expect(refreshDelayMs(issued(-0), now + 2 * HOUR)).toBe(HOUR - REFRESH_LEAD_MS);
    // The local clock is two hours slow: the token looks issued in the future; never later than its lifetime.
    expect(refreshDelayMs(issued(0), now - 2 * HOUR)).toBe(HOUR - REFRESH_LEAD_MS);
    // Short-lived tokens: at half their life.
    expect(refreshDelayMs(issued(0, 4 * 60_000), now)).toBe(2 * 60_000);
  });

  describe('TokenRefresher', () => {
    beforeEach(() => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
      vi.setSystemTime(now);
    });
    afterEach(() => vi.useRealTimers());

    it('forces a refresh shortly before expiry, and follows each new token', async () => {
      const refresh = vi.fn(async () => jwt(issued(-(HOUR - REFRESH_LEAD_MS))));
      const r = new TokenRefresher(refresh);
      r.schedule(jwt(issued(0)));
      expect(r.due).toBe(now + HOUR - REFRESH_LEAD_MS);
      await vi.advanceTimersByTimeAsync(HOUR - REFRESH_LEAD_MS - 1);
      expect(refresh).not.toHaveBeenCalled();
      await vi.advanceTimersByTimeAsync(1);
      expect(refresh).toHaveBeenCalledTimes(1);
      // The new token (had the SDK's listener not scheduled it) is refreshed before it expires in turn.
      expect(r.due).toBe(Date.now() + HOUR - REFRESH_LEAD_MS);
      r.schedule(null); // signed out
      expect(r.due).toBe(0);
      await vi.advanceTimersByTimeAsync(2 * HOUR);
      expect(refresh).toHaveBeenCalledTimes(1);
    });

    it('tries again after a failed refresh, and catches up after sleep', async () => {
      let fail = true;
      const refresh = vi.fn(async () => {
        if (fail) throw new Error('offline');
        return jwt(issued(0));
      });
      const r = new TokenRefresher(refresh);
      r.schedule(jwt(issued(50 * 60_000)));
      await vi.advanceTimersByTimeAsync(5 * 60_000);
      expect(refresh).toHaveBeenCalledTimes(1);
      expect(r.due).toBe(Date.now() + 30_000);
      fail = false;
      // The device slept through the timer: the clock jumped, the timer did not run.
      vi.setSystemTime(Date.now() + 10 * 60_000);
      r.wake();
      await vi.advanceTimersByTimeAsync(0);
      expect(refresh).toHaveBeenCalledTimes(2);
      r.wake(); // not due: nothing
      expect(refresh).toHaveBeenCalledTimes(2);
      r.cancel();
    });
  });
});

describe('email link', () => {
  const back =
    'https://place.example.org/?x=12&y=34&zoom=8&apiKey=AIza&oobCode=abc-123&mode=signIn&lang=en#top';

  it('recognises the link and cleans it out of the URL, keeping the view', () => {
    expect(looksLikeEmailLink(back)).toBe(true);
    expect(looksLikeEmailLink('https://place.example.org/?x=1&mode=signIn')).toBe(false);
    expect(looksLikeEmailLink('https://place.example.org/?mode=resetPassword&oobCode=1')).toBe(false);
    expect(cleanEmailLinkUrl(back)).toBe('https://place.example.org/?x=12&y=34&zoom=8#top');
    expect(cleanEmailLinkUrl('http://127.0.0.1:8000/?mode=signIn&oobCode=x&apiKey=k&tenantId=t&continueUrl=u')).toBe(
      'http://127.0.0.1:8000/',
    );
    // Other parameters of the page stay, in order.
    expect(cleanEmailLinkUrl('https://h/?ref=mail&oobCode=x&x=1')).toBe('https://h/?ref=mail&x=1');
    expect(cleanEmailLinkUrl('https://h/?x=1&y=2&zoom=4')).toBe('https://h/?x=1&y=2&zoom=4');
  });

  it('checks an address as typed', () => {
    expect(checkEmail('  ann@example.com ')).toEqual({ email: 'ann@example.com' });
    expect(checkEmail('')).toHaveProperty('error', 'Type your email address.');
    expect(checkEmail('ann@')).toHaveProperty('error');
    expect(checkEmail('ann example.com')).toHaveProperty('error');
  });
});

describe('errors in words', () => {
  const err = (code: string) => Object.assign(new Error(`Firebase: Error (${code}).`), { code });

  it('says what Firebase errors mean for the player', () => {
    expect(firebaseErrorText(err('auth/expired-action-code'))).toBe('That link has expired; ask for a new one.');
    expect(firebaseErrorText(err('auth/invalid-action-code'))).toMatch(/expired or was already used; ask for a new one/);
    expect(firebaseErrorText(err('auth/invalid-email'), 'email-link')).toMatch(/not the address the link was sent to/);
    expect(firebaseErrorText(err('auth/invalid-email'))).toMatch(/does not look like an email/);
    expect(firebaseErrorText(err('auth/network-request-failed'))).toMatch(/Check your connection/);
    expect(firebaseErrorText(err('auth/some-new-thing'))).toBe('Sign-in failed (some-new-thing). Try again.');
    expect(firebaseErrorText(new Error('plain'))).toBe('plain');
  });

  it('says why and until when a player is banned', () => {
    const now = Date.UTC(2025, 11, 1, 12, 0);
    const t = errorText('banned', 'griefing the flag', 2 * HOUR + 5 * 60_000, now);
    expect(t.title).toBe('Your account may not place pixels.');
    expect(t.detail).toMatch(/^Reason: griefing the flag\. The ban ends on .+ \(in 2 hours 5 minutes\)\.$/);
    expect(errorText('banned', 'spam.', undefined, now).detail).toBe('Reason: spam. The ban is permanent.');
    // The server's generic text is no reason.
    expect(banDetail('You are banned from placing pixels.', undefined)).toBe('The ban is permanent.');
    expect(formatSpan(3 * 86_400_000 + 4 * HOUR + 59_000)).toBe('3 days 4 hours');
    expect(formatSpan(HOUR)).toBe('1 hour');
    expect(formatSpan(61_000)).toBe('1 minute 1 second');
  });

  it('token_expired tells the player to place again', () => {
    expect(errorText('token_expired', '').title).toMatch(/renewed\. Place again/);
  });
});
