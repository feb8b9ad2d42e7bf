/**
 * Sign-in behind one interface, so the page's control does not care which provider is behind it.
 * `GET /api/config`'s `auth` field says which one to use (`loadAuthProvider`); a missing field means dev.
 *
 * `dev` (the server's PLACE_AUTH=dev): the token is the player's name, remembered in localStorage.
 * `firebase`: the token is a Firebase ID token (Google or an email link); that provider, its sign-in
 * panel and the Firebase SDK are a lazy chunk (`firebaseProvider.ts`) loaded only then.
 */
import type { Component } from 'svelte';
import type { PlaceClient } from './client.svelte';

/** What the player chose in the sign-in dialog: a name (dev), or a Firebase way of signing in. */
export type SignInRequest =
  | string
  | { method: 'google' }
  /** Finish the email link the page was opened with, for this address. */
  | { method: 'email-link'; email: string };

/** Props of a provider's own sign-in panel, shown inside the page's sign-in dialog. */
export interface SignInPanelProps {
  client: PlaceClient;
  onclose: () => void;
}

export interface AuthProvider {
  readonly kind: string;
  /** True when `signIn` needs a name typed by the player (dev); false when the provider has its own UI. */
  readonly asksForName: boolean;
  /** The provider's own sign-in panel (Firebase); without one the dialog asks for a name or explains. */
  readonly panel?: Component<SignInPanelProps>;
  /** The token for `{"t":"auth"}`, or null when signed out. `forceRefresh`: a new one, not the cached one. */
  getToken(forceRefresh?: boolean): Promise<string | null>;
  /** What to call the player before the server answers (the remembered name), or null. */
  displayName(): string | null;
  signIn(request?: SignInRequest): Promise<void>;
  signOut(): Promise<void>;
  /**
   * Providers whose token changes by itself (refreshed before it expires, signed in by a redirect or
   * in another tab, signed out elsewhere) report every change; the page sends it on the open connection.
   */
  onTokenChange?(listener: (token: string | null) => void): () => void;
  /** `open` is called now and whenever the provider needs the dialog (the page came back from an email link). */
  watchDialog?(open: () => void): void;
  /** Why sign-in is not possible (UnavailableAuthProvider), for the dialog. */
  readonly unavailableReason?: string;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const DEV_NAME_KEY = 'place.devName';

/**
 * The server's rule for a dev name (place/api/auth.py, `_DEV_NAME`, Python's Unicode `\w`): 1 to 32
 * letters, digits, spaces, dots, dashes or underscores, counted in characters (code points).
 */
const NAME_RULE = /^[\p{L}\p{N}_ .-]{1,32}$/u;
/** What the server says when it refuses a name, word for word: one rule, one message. */
export const NAME_RULE_MESSAGE = 'A name is 1 to 32 letters, digits, spaces, dots, dashes or underscores.';

/**
 * A name as typed, made what the server takes (composed accents, trimmed, runs of white space one
 * space), or the server's message when it would refuse it. Nothing is cut: a long name is refused.
 */
export function checkName(raw: string): { name: string } | { error: string } {
  const name = raw.normalize('NFC').trim().replace(/\s+/g, ' ');
  if (!NAME_RULE.test(name)) return { error: NAME_RULE_MESSAGE };
  return { name };
}

export class DevAuthProvider implements AuthProvider {
  readonly kind = 'dev';
  readonly asksForName = true;
  private memory: string | null = null;
  constructor(private readonly store: KeyValueStore | null) {}

  async getToken(): Promise<string | null> {
    return this.displayName();
  }

  displayName(): string | null {
    try {
      return this.store?.getItem(DEV_NAME_KEY) || this.memory;
    } catch {
      return this.memory; // storage blocked (private mode, sandboxed iframe)
    }
  }

  async signIn(request?: SignInRequest): Promise<void> {
    const checked = checkName(typeof request === 'string' ? request : '');
    if ('error' in checked) throw new Error(checked.error);
    // Kept in memory too: if storage is blocked the name is not remembered across reloads,
    // but the player is still signed in on this page.
    this.memory = checked.name;
    try {
      this.store?.setItem(DEV_NAME_KEY, checked.name);
    } catch {
      // storage blocked
    }
  }

  async signOut(): Promise<void> {
    this.memory = null;
    try {
      this.store?.removeItem(DEV_NAME_KEY);
    } catch {
      // nothing stored
    }
  }

}

/** For a provider this build does not have, or that failed to load: watching works, sign-in explains itself. */
export class UnavailableAuthProvider implements AuthProvider {
  readonly asksForName = false;
  readonly unavailableReason: string;
  constructor(
    readonly kind: string,
    reason?: string,
  ) {
    this.unavailableReason = reason ?? `Sign-in with ${kind} is not available in this version of the page.`;
  }
  async getToken(): Promise<string | null> {
    return null;
  }
  displayName(): string | null {
    return null;
  }
  async signIn(): Promise<void> {
    throw new Error(this.unavailableReason);
  }
  async signOut(): Promise<void> {}
}

/** The provider `GET /api/config`'s `auth` field asks for: missing or "dev" means dev. */
export function authKind(config: unknown): string {
  if (typeof config !== 'object' || config === null) return 'dev';
  const auth = (config as { auth?: unknown }).auth;
  if (auth === undefined || auth === null) return 'dev';
  if (typeof auth === 'string') return auth;
  if (typeof auth === 'object' && typeof (auth as { provider?: unknown }).provider === 'string') {
    return (auth as { provider: string }).provider;
  }
  return 'dev';
}

/** The provider without loading anything: dev, or a placeholder for the others (see `loadAuthProvider`). */
export function createAuthProvider(config: unknown, store: KeyValueStore | null): AuthProvider {
  const kind = authKind(config);
  if (kind === 'dev') return new DevAuthProvider(store);
  return new UnavailableAuthProvider(kind);
}

/** The lazy chunk with the Firebase provider (and the Firebase SDK). */
export interface FirebaseModule {
  createFirebaseProvider(config: unknown, store: KeyValueStore | null): AuthProvider;
}

/**
 * The provider `GET /api/config` names. Firebase's is imported on demand (`load`), so the page of a
 * dev deployment never downloads the SDK; if that chunk cannot be loaded, sign-in explains itself.
 */
export async function loadAuthProvider(
  config: unknown,
  store: KeyValueStore | null,
  load: () => Promise<FirebaseModule> = () => import('./firebaseProvider'),
): Promise<AuthProvider> {
  const kind = authKind(config);
  if (kind === 'dev') return new DevAuthProvider(store);
  if (kind !== 'firebase') return new UnavailableAuthProvider(kind);
  let module: FirebaseModule;
  try {
    module = await load();
  } catch {
    return new UnavailableAuthProvider(kind, 'Sign-in could not be loaded. Check your connection and reload the page.');
  }
  return module.createFirebaseProvider(config, store);
}
