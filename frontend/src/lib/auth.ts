/**
 * Sign-in behind one interface, so the page's control does not care which provider is behind it.
 *
 * `dev` (the server's PLACE_AUTH=dev): the token is the player's name, remembered in localStorage.
 * A Firebase provider will implement the same interface (`getToken()` returning a Firebase ID token,
 * `signIn()` opening Firebase's own flow); `GET /api/config` will say which one to use in its `auth`
 * field, and a missing field means dev.
 */

export interface AuthProvider {
  readonly kind: string;
  /** True when `signIn` needs a name typed by the player (dev); false when the provider has its own UI. */
  readonly asksForName: boolean;
  /** The token for `{"t":"auth"}`, or null when signed out. */
  getToken(): Promise<string | null>;
  /** What to call the player before the server answers (the remembered name), or null. */
  displayName(): string | null;
  signIn(name?: string): Promise<void>;
  signOut(): Promise<void>;
}

export interface KeyValueStore {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
  removeItem(key: string): void;
}

export const DEV_NAME_KEY = 'place.devName';
export const MAX_NAME_LENGTH = 32;

/** A name as typed, trimmed; an error message when it cannot be used. */
export function checkName(raw: string): { name: string } | { error: string } {
  const name = raw.trim().replace(/\s+/g, ' ');
  if (name.length === 0) return { error: 'Type a name to sign in.' };
  if (name.length > MAX_NAME_LENGTH) return { error: `Use at most ${MAX_NAME_LENGTH} characters.` };
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

  async signIn(name?: string): Promise<void> {
    const checked = checkName(name ?? '');
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

/** For a provider this build does not have yet: watching works, sign-in explains itself. */
export class UnavailableAuthProvider implements AuthProvider {
  readonly asksForName = false;
  constructor(readonly kind: string) {}
  async getToken(): Promise<string | null> {
    return null;
  }
  displayName(): string | null {
    return null;
  }
  async signIn(): Promise<void> {
    throw new Error(`Sign-in with ${this.kind} is not available in this version of the page.`);
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

export function createAuthProvider(config: unknown, store: KeyValueStore | null): AuthProvider {
  const kind = authKind(config);
  if (kind === 'dev') return new DevAuthProvider(store);
  return new UnavailableAuthProvider(kind);
}
