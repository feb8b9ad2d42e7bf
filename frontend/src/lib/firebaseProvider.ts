/**
 * Sign-in with Firebase Authentication (Google, and an email link), behind the page's
 * `AuthProvider`. This module and the Firebase SDK are one lazy chunk: `loadAuthProvider`
 * (auth.ts) imports it only when `GET /api/config` names Firebase, so a dev deployment and the
 * embed never download it.
 *
 * The token for `{"t":"auth"}` is the Firebase ID token. It lives an hour: the provider refreshes
 * it a few minutes before it expires and reports every new token (`onTokenChange`) so the page
 * sends it on the open connection.
 */
import { initializeApp, type FirebaseApp } from 'firebase/app';
import {
  GoogleAuthProvider,
  browserLocalPersistence,
  browserPopupRedirectResolver,
  connectAuthEmulator,
  getRedirectResult,
  inMemoryPersistence,
  indexedDBLocalPersistence,
  initializeAuth,
  isSignInWithEmailLink,
  onIdTokenChanged,
  sendSignInLinkToEmail,
  signInWithEmailLink,
  signInWithPopup,
  signInWithRedirect,
  signOut,
  type Auth,
  type User,
} from 'firebase/auth';
import FirebaseSignIn from '../components/FirebaseSignIn.svelte';
import {
  UnavailableAuthProvider,
  type AuthProvider,
  type KeyValueStore,
  type SignInRequest,
} from './auth';
import {
  CANCELLED_CODES,
  EMAIL_KEY,
  POPUP_BLOCKED_CODES,
  REDIRECT_KEY,
  TokenRefresher,
  cleanEmailLinkUrl,
  errorCode,
  firebaseErrorText,
  firebaseSettings,
  type FirebaseSettings,
} from './firebaseAuth';

/** Errors after which an email link cannot be used again: it is forgotten (and cleaned from the URL). */
const DEAD_LINK_CODES = new Set(['auth/expired-action-code', 'auth/invalid-action-code']);

export interface Account {
  name: string | null;
  email: string | null;
}

export class FirebaseAuthProvider implements AuthProvider {
  readonly kind = 'firebase';
  readonly asksForName = false;
  readonly panel = FirebaseSignIn;
  readonly app: FirebaseApp;
  readonly auth: Auth;
  private readonly listeners = new Set<(token: string | null) => void>();
  private readonly refresher: TokenRefresher;
  private readonly ready: Promise<void>;
  private token: string | null = null;
  private changes = 0;
  private emailLink: string | null;
  /** Why the last Google sign-in by redirect failed, shown once in the dialog. */
  private redirectError: string | null = null;
  private openDialog: (() => void) | null = null;

  constructor(
    readonly settings: FirebaseSettings,
    private readonly store: KeyValueStore | null,
    private readonly session: KeyValueStore | null,
    href: string = location.href,
  ) {
    this.app = initializeApp(settings.options, 'place');
    this.auth = initializeAuth(this.app, {
      // Stay signed in across reloads; where storage is blocked, for this page only.
      persistence: [indexedDBLocalPersistence, browserLocalPersistence, inMemoryPersistence],
      popupRedirectResolver: browserPopupRedirectResolver,
    });
    if (settings.emulatorUrl) connectAuthEmulator(this.auth, settings.emulatorUrl, { disableWarnings: true });
    this.emailLink = isSignInWithEmailLink(this.auth, href) ? href : null;
    this.refresher = new TokenRefresher(async () => {
      const user = this.auth.currentUser;
      return user ? user.getIdToken(true) : null;
    });
    onIdTokenChanged(this.auth, (user) => void this.tokenChanged(user));
    this.ready = this.auth.authStateReady();
    if (typeof window !== 'undefined') {
      const wake = () => {
        if (document.visibilityState === 'visible') this.refresher.wake();
      };
      document.addEventListener('visibilitychange', wake);
      window.addEventListener('online', wake);
    }
    if (this.readKey(this.session, REDIRECT_KEY)) this.finishRedirect();
  }

  // ------------------------------------------------------------ AuthProvider

  async getToken(forceRefresh = false): Promise<string | null> {
    await this.ready;
    const user = this.auth.currentUser;
    if (!user) return null;
    try {
      return await user.getIdToken(forceRefresh);
    } catch {
      // Offline: the token in hand is still good unless a fresh one was asked for.
      return forceRefresh ? null : this.token;
    }
  }

  displayName(): string | null {
    const user = this.auth.currentUser;
    return user?.displayName || user?.email || null;
  }

  onTokenChange(listener: (token: string | null) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  async signIn(request?: SignInRequest): Promise<void> {
    if (typeof request !== 'object' || request === null) throw new Error('Choose Google or an email link to sign in.');
    if (request.method === 'google') return this.signInWithGoogle();
    return this.finishEmailLink(request.email);
  }

  async signOut(): Promise<void> {
    this.refresher.cancel();
    await signOut(this.auth);
  }

  watchDialog(open: () => void): void {
    this.openDialog = open;
    if (this.emailLink !== null || this.redirectError !== null) open();
  }

  // ------------------------------------------------------------ for the sign-in panel

  account(): Account | null {
    const user = this.auth.currentUser;
    return user ? { name: user.displayName, email: user.email } : null;
  }

  /** The email sign-in link this page was opened with, while it can still be used. */
  pendingEmailLink(): string | null {
    return this.emailLink;
  }

  rememberedEmail(): string | null {
    return this.readKey(this.store, EMAIL_KEY);
  }

  forgetEmail(): void {
    this.removeKey(this.store, EMAIL_KEY);
  }

  /** A Google sign-in by redirect that failed: its reason, once. */
  takeRedirectError(): string | null {
    const e = this.redirectError;
    this.redirectError = null;
    return e;
  }

  /** Send a sign-in link to `email`; it brings the player back to this view of the canvas. */
  async sendEmailLink(email: string): Promise<void> {
    try {
      await sendSignInLinkToEmail(this.auth, email, {
        url: cleanEmailLinkUrl(location.href),
        handleCodeInApp: true,
      });
    } catch (err) {
      throw new Error(firebaseErrorText(err));
    }
    this.writeKey(this.store, EMAIL_KEY, email);
  }

  /** Forget the email link (used, dead, or the player gave up) and take it out of the address bar. */
  dropEmailLink(): void {
    this.emailLink = null;
    if (typeof history !== 'undefined') {
      const clean = cleanEmailLinkUrl(location.href);
      if (clean !== location.href) history.replaceState(history.state, '', clean);
    }
  }

  // ------------------------------------------------------------ inside

  private async signInWithGoogle(): Promise<void> {
    const google = new GoogleAuthProvider();
    google.setCustomParameters({ prompt: 'select_account' });
    try {
      // Called at once in the click: browsers let only a click open a popup.
      await signInWithPopup(this.auth, google);
    } catch (err) {
      const code = errorCode(err);
      if (code && POPUP_BLOCKED_CODES.has(code)) {
        this.writeKey(this.session, REDIRECT_KEY, '1');
        await signInWithRedirect(this.auth, google);
        return new Promise<void>(() => {}); // the page is leaving for Google
      }
      const error = new Error(firebaseErrorText(err));
      if (code && CANCELLED_CODES.has(code)) error.name = 'Cancelled';
      throw error;
    }
  }

  private async finishEmailLink(email: string): Promise<void> {
    const link = this.emailLink;
    if (!link) throw new Error('That link was already used; ask for a new one.');
    try {
      await signInWithEmailLink(this.auth, email, link);
    } catch (err) {
      const code = errorCode(err);
      if (code && DEAD_LINK_CODES.has(code)) this.dropEmailLink();
      throw new Error(firebaseErrorText(err, 'email-link'));
    }
    this.removeKey(this.store, EMAIL_KEY);
    this.dropEmailLink();
  }

  private finishRedirect(): void {
    this.removeKey(this.session, REDIRECT_KEY);
    getRedirectResult(this.auth).catch((err: unknown) => {
      const code = errorCode(err);
      if (code && CANCELLED_CODES.has(code)) return;
      this.redirectError = firebaseErrorText(err);
      this.openDialog?.();
    });
  }

  private async tokenChanged(user: User | null): Promise<void> {
    const change = ++this.changes;
    let token: string | null = null;
    if (user) {
      try {
        token = await user.getIdToken();
      } catch {
        token = this.token; // offline: keep the one in hand; the refresher retries
      }
    }
    if (change !== this.changes || token === this.token) return;
    this.token = token;
    this.refresher.schedule(token);
    for (const fn of this.listeners) fn(token);
  }

  private readKey(store: KeyValueStore | null, key: string): string | null {
    try {
      return store?.getItem(key) || null;
    } catch {
      return null;
    }
  }

  private writeKey(store: KeyValueStore | null, key: string, value: string): void {
    try {
      store?.setItem(key, value);
    } catch {
      // storage blocked: the player types the address again when the link comes back
    }
  }

  private removeKey(store: KeyValueStore | null, key: string): void {
    try {
      store?.removeItem(key);
    } catch {
      // nothing stored
    }
  }
}

/** The provider for `GET /api/config`'s `auth`, or one that explains why sign-in is not available. */
export function createFirebaseProvider(config: unknown, store: KeyValueStore | null): AuthProvider {
  const settings = firebaseSettings(config);
  if ('error' in settings) return new UnavailableAuthProvider('firebase', settings.error);
  let session: KeyValueStore | null = null;
  try {
    session = window.sessionStorage;
  } catch {
    // blocked
  }
  try {
    return new FirebaseAuthProvider(settings, store, session);
  } catch (err) {
    return new UnavailableAuthProvider('firebase', firebaseErrorText(err));
  }
}
