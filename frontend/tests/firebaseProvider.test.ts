// The Firebase provider's wiring to the SDK, with the SDK stubbed (no network, no browser): the
// emulator only when the server names one, Google by popup and by redirect when popups are blocked,
// the email link, fresh tokens reported and refreshed before they expire, sign-out.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { KeyValueStore } from '../src/lib/auth';
import { EMAIL_KEY, REDIRECT_KEY } from '../src/lib/firebaseAuth';

type Listener = (user: FakeUser | null) => void;

interface FakeUser {
  displayName: string | null;
  email: string | null;
  getIdToken: (force?: boolean) => Promise<string>;
}

const sdk = vi.hoisted(() => {
  const fail = (code: string) => Object.assign(new Error(`Firebase: Error (${code}).`), { code });
  const state = {
    auth: { currentUser: null as FakeUser | null, authStateReady: async () => {} },
    listeners: [] as Listener[],
    fail,
  };
  return {
    state,
    initializeApp: vi.fn((options: object, name: string) => ({ options, name })),
    initializeAuth: vi.fn(() => state.auth),
    connectAuthEmulator: vi.fn(),
    onIdTokenChanged: vi.fn((_auth: unknown, fn: Listener) => {
      state.listeners.push(fn);
      return () => {};
    }),
    isSignInWithEmailLink: vi.fn((_auth: unknown, href: string) => href.includes('oobCode=')),
    signInWithPopup: vi.fn(async () => {}),
    signInWithRedirect: vi.fn(async () => {}),
    getRedirectResult: vi.fn(async () => null),
    sendSignInLinkToEmail: vi.fn(async () => {}),
    signInWithEmailLink: vi.fn(async () => {}),
    signOut: vi.fn(async () => {}),
  };
});

vi.mock('firebase/app', () => ({ initializeApp: sdk.initializeApp }));
vi.mock('firebase/auth', () => ({
  ...sdk,
  GoogleAuthProvider: class {
    params: object = {};
    setCustomParameters(p: object) {
      this.params = p;
    }
  },
  browserLocalPersistence: 'local',
  browserPopupRedirectResolver: 'resolver',
  inMemoryPersistence: 'memory',
  indexedDBLocalPersistence: 'indexedDB',
}));

const { FirebaseAuthProvider, createFirebaseProvider } = await import('../src/lib/firebaseProvider');

function memory(): KeyValueStore & { m: Map<string, string> } {
  const m = new Map<string, string>();
  return { m, getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

const PAGE = 'https://place.example.org/?x=5&y=6&zoom=8';
const LINK = `${PAGE}&apiKey=k&oobCode=code-1&mode=signIn&lang=en`;
const settings = (emulatorUrl: string | null = null) => ({
  options: { apiKey: 'k', projectId: 'p', authDomain: 'p.firebaseapp.com' },
  emulatorUrl,
});

/** An unsigned JWT issued now (by the fake clock), living an hour. */
function token(n: number): string {
  const now = Math.floor(Date.now() / 1000);
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'none' })}.${b64({ iat: now, exp: now + 3600, n })}.sig`;
}

describe('FirebaseAuthProvider', () => {
  let replaced: string[];
  beforeEach(() => {
    vi.clearAllMocks();
    sdk.state.auth.currentUser = null;
    sdk.state.listeners = [];
    replaced = [];
    let href = PAGE;
    vi.stubGlobal('location', {
      get href() {
        return href;
      },
    });
    vi.stubGlobal('history', {
      state: null,
      replaceState: (_s: unknown, _t: string, url: string) => {
        href = url;
        replaced.push(url);
      },
    });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it('connects to the Auth emulator only when the server names one', () => {
    new FirebaseAuthProvider(settings(), null, null, PAGE);
    expect(sdk.connectAuthEmulator).not.toHaveBeenCalled();
    expect(sdk.initializeApp).toHaveBeenCalledWith(settings().options, 'place');
    const p = new FirebaseAuthProvider(settings('http://127.0.0.1:9099'), null, null, PAGE);
    expect(sdk.connectAuthEmulator).toHaveBeenCalledTimes(1);
    expect(sdk.connectAuthEmulator).toHaveBeenCalledWith(p.auth, 'http://127.0.0.1:9099', { disableWarnings: true });
  });

  it('createFirebaseProvider explains bad settings instead of failing', () => {
    const p = createFirebaseProvider({ auth: { provider: 'firebase', apiKey: 'k' } }, null);
    expect(p.unavailableReason).toMatch(/projectId/);
    expect(sdk.initializeApp).not.toHaveBeenCalled();
  });

  it('signs in with Google by popup, and by redirect when the popup is blocked', async () => {
    const session = memory();
    const p = new FirebaseAuthProvider(settings(), null, session, PAGE);
    await p.signIn({ method: 'google' });
    expect(sdk.signInWithPopup).toHaveBeenCalledTimes(1);
    expect(sdk.signInWithRedirect).not.toHaveBeenCalled();

    sdk.signInWithPopup.mockRejectedValueOnce(sdk.state.fail('auth/popup-blocked'));
    void p.signIn({ method: 'google' }); // never settles: the page leaves for Google
    await vi.waitFor(() => expect(sdk.signInWithRedirect).toHaveBeenCalledTimes(1));
    expect(session.m.get(REDIRECT_KEY)).toBe('1');

    // Back from the redirect: its result is collected (once), and a failure is shown in the dialog.
    sdk.getRedirectResult.mockRejectedValueOnce(sdk.state.fail('auth/account-exists-with-different-credential'));
    const back = new FirebaseAuthProvider(settings(), null, session, PAGE);
    const open = vi.fn();
    back.watchDialog(open);
    await vi.waitFor(() => expect(open).toHaveBeenCalledTimes(1));
    expect(session.m.has(REDIRECT_KEY)).toBe(false);
    expect(back.takeRedirectError()).toMatch(/already signs in another way/);
    expect(back.takeRedirectError()).toBeNull();

    sdk.signInWithPopup.mockRejectedValueOnce(sdk.state.fail('auth/popup-closed-by-user'));
    await expect(p.signIn({ method: 'google' })).rejects.toThrow('The Google window was closed before signing in.');
    await expect(p.signIn('a name')).rejects.toThrow(/Google or an email link/);
  });

  it('sends an email link back to this view, and remembers the address', async () => {
    const store = memory();
    const p = new FirebaseAuthProvider(settings(), store, null, PAGE);
    await p.sendEmailLink('ann@example.com');
    expect(sdk.sendSignInLinkToEmail).toHaveBeenCalledWith(p.auth, 'ann@example.com', {
      url: PAGE,
      handleCodeInApp: true,
    });
    expect(p.rememberedEmail()).toBe('ann@example.com');
    sdk.sendSignInLinkToEmail.mockRejectedValueOnce(sdk.state.fail('auth/quota-exceeded'));
    await expect(p.sendEmailLink('ann@example.com')).rejects.toThrow(/Too many sign-in emails/);
  });

  it('finishes an email link, then forgets the address and cleans the URL', async () => {
    const store = memory();
    store.setItem(EMAIL_KEY, 'ann@example.com');
    history.replaceState(null, '', LINK);
    const p = new FirebaseAuthProvider(settings(), store, null, LINK);
    const open = vi.fn();
    p.watchDialog(open);
    expect(open).toHaveBeenCalledTimes(1); // the dialog finishes it
    expect(p.pendingEmailLink()).toBe(LINK);

    // Another address than the link's: the link stays usable.
    sdk.signInWithEmailLink.mockRejectedValueOnce(sdk.state.fail('auth/invalid-email'));
    await expect(p.signIn({ method: 'email-link', email: 'bob@example.com' })).rejects.toThrow(
      /not the address the link was sent to/,
    );
    expect(p.pendingEmailLink()).toBe(LINK);

    await p.signIn({ method: 'email-link', email: 'ann@example.com' });
    expect(sdk.signInWithEmailLink).toHaveBeenLastCalledWith(p.auth, 'ann@example.com', LINK);
    expect(p.pendingEmailLink()).toBeNull();
    expect(store.m.has(EMAIL_KEY)).toBe(false);
    expect(replaced.at(-1)).toBe(PAGE);
  });

  it('drops a dead link and says to ask for a new one', async () => {
    history.replaceState(null, '', LINK);
    const p = new FirebaseAuthProvider(settings(), memory(), null, LINK);
    sdk.signInWithEmailLink.mockRejectedValueOnce(sdk.state.fail('auth/expired-action-code'));
    await expect(p.signIn({ method: 'email-link', email: 'ann@example.com' })).rejects.toThrow(
      'That link has expired; ask for a new one.',
    );
    expect(p.pendingEmailLink()).toBeNull();
    expect(replaced.at(-1)).toBe(PAGE);
    await expect(p.signIn({ method: 'email-link', email: 'ann@example.com' })).rejects.toThrow(/already used/);
  });

  it('reports each new ID token and forces a refresh before it expires', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
    vi.setSystemTime(1_764_000_000_000); // a whole second: the token's iat is exact
    const p = new FirebaseAuthProvider(settings(), null, null, PAGE);
    const seen: (string | null)[] = [];
    p.onTokenChange((t) => seen.push(t));
    let n = 1;
    let current = token(n);
    const user: FakeUser = {
      displayName: 'Ann',
      email: 'ann@example.com',
      getIdToken: vi.fn(async (force?: boolean) => {
        if (force) {
          current = token(++n);
          queueMicrotask(() => sdk.state.listeners.forEach((fn) => fn(user))); // as the SDK does
        }
        return current;
      }),
    };
    sdk.state.auth.currentUser = user;
    sdk.state.listeners.forEach((fn) => fn(user));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen).toEqual([token(1)]);
    expect(await p.getToken()).toBe(token(1));
    expect(p.displayName()).toBe('Ann');
    expect(p.account()).toEqual({ name: 'Ann', email: 'ann@example.com' });

    await vi.advanceTimersByTimeAsync(55 * 60_000 - 1);
    expect(user.getIdToken).not.toHaveBeenCalledWith(true);
    await vi.advanceTimersByTimeAsync(1);
    expect(user.getIdToken).toHaveBeenCalledWith(true);
    expect(seen).toHaveLength(2);
    expect(seen[1]).toBe(current);

    await p.signOut();
    expect(sdk.signOut).toHaveBeenCalledWith(p.auth);
    sdk.state.auth.currentUser = null;
    sdk.state.listeners.forEach((fn) => fn(null));
    await vi.advanceTimersByTimeAsync(0);
    expect(seen.at(-1)).toBeNull();
    expect(await p.getToken()).toBeNull();
    const calls = vi.mocked(user.getIdToken).mock.calls.length;
    await vi.advanceTimersByTimeAsync(2 * 3_600_000);
    expect(user.getIdToken).toHaveBeenCalledTimes(calls); // nothing refreshed after sign-out
  });
});
