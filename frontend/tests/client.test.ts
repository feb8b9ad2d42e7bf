// The page's model end to end against a fake socket: sign-in, placing, answers, reconnects.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DevAuthProvider, type AuthProvider, type KeyValueStore, type SignInRequest } from '../src/lib/auth';
import { PlaceClient } from '../src/lib/client.svelte';
import { Toasts } from '../src/lib/toasts.svelte';
import { deltaFrame, snapshotFrame } from './frames';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  sent: Record<string, unknown>[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor() {
    FakeSocket.all.push(this);
  }
  send(t: string) {
    this.sent.push(JSON.parse(t));
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  text(m: object) {
    this.onmessage?.({ data: JSON.stringify(m) });
  }
  binary(b: ArrayBuffer) {
    this.onmessage?.({ data: b });
  }
  drop(code: number) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

const PALETTE = ['#ffffff', '#000000', '#ff4500'];
const hello = (user: { id: string; name: string } | null, extra: object = {}) => ({
  t: 'hello',
  v: 1,
  width: 4,
  height: 4,
  palette: PALETTE,
  cooldown_ms: 60_000,
  open: true,
  user,
  next_place_at_ms: 0,
  ...extra,
});

function store(name: string | null): KeyValueStore {
  const m = new Map<string, string>(name ? [['place.devName', name]] : []);
  return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
}

const flush = async (client: PlaceClient) => {
  await client.feed.whenIdle();
  await Promise.resolve();
};

describe('PlaceClient', () => {
  beforeEach(() => {
    FakeSocket.all = [];
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'Date'] });
  });
  afterEach(() => vi.useRealTimers());

  async function connected(name: string | null = 'ann') {
    const toasts = new Toasts();
    const client = new PlaceClient({
      url: 'ws://x/ws',
      toasts,
      auth: new DevAuthProvider(store(name)),
      createSocket: () => new FakeSocket() as unknown as WebSocket,
    });
    client.start();
    const ws = FakeSocket.all.at(-1)!;
    ws.open();
    ws.text(hello(null));
    await flush(client);
    ws.binary(snapshotFrame(10, 4, 4, new Uint8Array(16)));
    await flush(client);
    return { client, ws, toasts };
  }

  it('goes live on the snapshot and signs in with the remembered name', async () => {
    const { client, ws } = await connected('ann');
    expect(client.status).toBe('live');
    expect(ws.sent).toEqual([{ t: 'auth', token: 'ann' }]);
    ws.text(hello({ id: 'ann', name: 'ann' }));
    expect(client.user).toEqual({ id: 'ann', name: 'ann' });
    client.stop();
  });

  it('waits for the answer to a sign-in and reports a refusal', async () => {
    const { client, ws, toasts } = await connected(null);
    // (a name the page itself refuses never gets this far: the server's refusal of one it took)
    const refused = client.signIn('mallory');
    await Promise.resolve();
    await Promise.resolve();
    expect(ws.sent.at(-1)).toEqual({ t: 'auth', token: 'mallory' });
    ws.text({ t: 'error', id: null, code: 'unauthenticated', message: 'this name is taken' });
    await expect(refused).rejects.toThrow('This name is taken.');
    expect(client.user).toBeNull();
    expect(toasts.items).toEqual([]);
    const accepted = client.signIn('ann');
    await Promise.resolve();
    await Promise.resolve();
    ws.text(hello({ id: 'ann', name: 'ann' }));
    await expect(accepted).resolves.toBeUndefined();
    expect(toasts.items.at(-1)?.title).toBe('Signed in as ann.');
    client.stop();
  });

  it('shows a placement at once, then keeps it once placed', async () => {
    const { client, ws } = await connected();
    ws.text(hello({ id: 'ann', name: 'ann' }));
    expect(client.place(1, 2, 2)).toBe('sent');
    expect(ws.sent.at(-1)).toEqual({ t: 'place', id: 1, x: 1, y: 2, c: 2 });
    expect(client.state.shownIndex(1, 2)).toBe(2);
    expect(client.placing).toBe(true);
    ws.text({ t: 'placed', id: 1, x: 1, y: 2, c: 2, next_place_at_ms: Date.now() + 60_000 });
    expect(client.lastPlacement?.status).toBe('placed');
    expect(client.cooldownLeft(client.clock.now())).toBe(60_000);
    expect(client.place(0, 0, 1)).toBe('cooldown');
    ws.binary(deltaFrame(11, [2 * 4 + 1], [2]));
    await flush(client);
    expect(client.state.shownIndex(1, 2)).toBe(2);
    client.stop();
  });

  it('rolls a refused placement back and says why', async () => {
    const { client, ws, toasts } = await connected();
    ws.text(hello({ id: 'ann', name: 'ann' }));
    client.place(3, 3, 1);
    ws.text({ t: 'error', id: 1, code: 'cooldown', message: 'wait', retry_at_ms: Date.now() + 30_000 });
    expect(client.state.shownIndex(3, 3)).toBe(0);
    expect(client.lastPlacement?.status).toBe('failed');
    expect(toasts.items.at(-1)?.title).toBe('Not yet: you can place again in 30 seconds.');
    expect(client.cooldownLeft(client.clock.now())).toBe(30_000);
    client.stop();
  });

  it('asks to sign in first, and refuses while not live', async () => {
    const { client, ws } = await connected(null);
    expect(client.place(0, 0, 1)).toBe('sign-in');
    ws.text(hello({ id: 'bo', name: 'bo' }));
    ws.drop(1006);
    expect(client.status).toBe('reconnecting');
    expect(client.place(0, 0, 1)).toBe('offline');
    client.stop();
  });

  it('reconnects at once after 1012, re-auths, and fails the placement in flight', async () => {
    const { client, ws, toasts } = await connected('ann');
    ws.text(hello({ id: 'ann', name: 'ann' }));
    client.place(0, 1, 1);
    ws.drop(1012);
    expect(client.status).toBe('reconnecting');
    expect(client.state.shownIndex(0, 1)).toBe(0);
    expect(toasts.items.at(-1)?.title).toMatch(/connection dropped/);
    vi.advanceTimersByTime(300);
    const ws2 = FakeSocket.all.at(-1)!;
    expect(ws2).not.toBe(ws);
    ws2.open();
    ws2.text(hello(null));
    await flush(client);
    expect(ws2.sent).toEqual([{ t: 'auth', token: 'ann' }]);
    ws2.binary(snapshotFrame(20, 4, 4, new Uint8Array(16)));
    await flush(client);
    expect(client.status).toBe('live');
    client.stop();
  });

  it('resyncs when a heartbeat is ahead, ignores unknown messages, follows a resize', async () => {
    const { client, ws } = await connected(null);
    ws.text({ t: 'tick', seq: 10 });
    ws.text({ t: 'fireworks', n: 1 });
    await flush(client);
    expect(ws.sent).toEqual([]);
    ws.text({ t: 'tick', seq: 12 });
    await flush(client);
    expect(ws.sent).toEqual([{ t: 'resync' }]);
    ws.text(hello(null, { width: 6, height: 5 }));
    ws.binary(snapshotFrame(30, 6, 5, new Uint8Array(30).fill(1)));
    await flush(client);
    expect([client.width, client.height]).toEqual([6, 5]);
    expect(client.state.shownIndex(5, 4)).toBe(1);
    client.stop();
  });

  /** A provider like Firebase's: its token changes by itself and it says so. */
  class TokenProvider implements AuthProvider {
    readonly kind = 'firebase';
    readonly asksForName = false;
    token: string | null = null;
    next = 1;
    forced = 0;
    listener: ((t: string | null) => void) | null = null;
    async getToken(force = false) {
      if (force && this.token) {
        this.forced++;
        this.change(`t${++this.next}`);
      }
      return this.token;
    }
    displayName() {
      return null;
    }
    async signIn(request?: SignInRequest) {
      if (typeof request !== 'object') throw new Error('choose a way');
      this.change(`t${this.next}`);
    }
    async signOut() {
      this.change(null);
    }
    onTokenChange(fn: (t: string | null) => void) {
      this.listener = fn;
      return () => (this.listener = null);
    }
    change(t: string | null) {
      this.token = t;
      this.listener?.(t);
    }
  }

  async function withProvider() {
    const toasts = new Toasts();
    const auth = new TokenProvider();
    const client = new PlaceClient({
      url: 'ws://x/ws',
      toasts,
      auth: null,
      createSocket: () => new FakeSocket() as unknown as WebSocket,
    });
    client.start();
    const ws = FakeSocket.all.at(-1)!;
    ws.open();
    ws.text(hello(null));
    await flush(client);
    ws.binary(snapshotFrame(10, 4, 4, new Uint8Array(16)));
    await flush(client);
    // GET /api/config answered after the socket was live.
    client.setAuth(auth);
    await flush(client);
    return { client, ws, toasts, auth };
  }

  const ann = { id: 'uid-ann', name: 'Ann' };

  it('signs in through the provider and sends each refreshed token on the open connection', async () => {
    const { client, ws, toasts, auth } = await withProvider();
    expect(ws.sent).toEqual([]); // signed out: nothing to send
    const signedIn = client.signIn({ method: 'google' });
    await flush(client);
    expect(ws.sent).toEqual([{ t: 'auth', token: 't1' }]); // once, though both the change and signIn send
    ws.text(hello(ann));
    await expect(signedIn).resolves.toBeUndefined();
    expect(client.user).toEqual(ann);
    expect(toasts.items.at(-1)?.title).toBe('Signed in as Ann.');

    auth.change('t2'); // refreshed before it expired
    await flush(client);
    expect(ws.sent.at(-1)).toEqual({ t: 'auth', token: 't2' });
    ws.text(hello(ann));
    auth.change('t2'); // the same token again: not resent
    await flush(client);
    expect(ws.sent).toHaveLength(2);
    client.stop();
  });

  it('on token_expired gets a fresh token, resends auth, and lets the player place again', async () => {
    const { client, ws, toasts, auth } = await withProvider();
    const signedIn = client.signIn({ method: 'email-link', email: 'ann@example.com' });
    await flush(client);
    ws.text(hello(ann));
    await signedIn;
    await flush(client);
    expect(client.place(1, 1, 1)).toBe('sent');
    ws.text({ t: 'error', id: 1, code: 'token_expired', message: 'token expired' });
    await flush(client);
    expect(client.state.shownIndex(1, 1)).toBe(0); // rolled back
    expect(client.lastPlacement?.reason).toMatch(/renewed/);
    expect(auth.forced).toBe(1);
    expect(ws.sent.at(-1)).toEqual({ t: 'auth', token: 't2' });
    expect(ws.sent.filter((m) => m.t === 'auth')).toHaveLength(2);
    ws.text(hello(ann));
    expect(toasts.items.at(-1)?.title).toBe('Sign-in renewed: you can place again.');
    expect(client.place(1, 1, 1)).toBe('sent');
    client.stop();
  });

  it('signing out drops the identity: a fresh connection that cannot place', async () => {
    const { client, ws, auth } = await withProvider();
    void client.signIn({ method: 'google' });
    await flush(client);
    ws.text(hello(ann));
    await client.signOut();
    expect(client.user).toBeNull();
    expect(auth.token).toBeNull();
    expect(ws.readyState).toBe(3); // closed
    vi.advanceTimersByTime(1);
    const ws2 = FakeSocket.all.at(-1)!;
    expect(ws2).not.toBe(ws);
    expect(FakeSocket.all).toHaveLength(2); // one reconnect, though the provider reported the sign-out too
    ws2.open();
    ws2.text(hello(null));
    await flush(client);
    expect(ws2.sent).toEqual([]); // no token to send
    expect(client.place(0, 0, 1)).toBe('sign-in');
    client.stop();
  });

  it('a sign-out in another tab drops the identity too', async () => {
    const { client, ws, auth } = await withProvider();
    void client.signIn({ method: 'google' });
    await flush(client);
    ws.text(hello(ann));
    auth.change(null);
    expect(client.user).toBeNull();
    expect(ws.readyState).toBe(3);
    client.stop();
  });

  it('retries a refused token once with a fresh one, then gives up and signs out', async () => {
    const { client, ws, auth } = await withProvider();
    const signedIn = client.signIn({ method: 'google' });
    await flush(client);
    ws.text({ t: 'error', id: null, code: 'unauthenticated', message: 'the sign-in token was refused: expired' });
    await flush(client);
    expect(ws.sent.at(-1)).toEqual({ t: 'auth', token: 't2' });
    ws.text({ t: 'error', id: null, code: 'unauthenticated', message: 'the sign-in token was refused: wrong project' });
    await expect(signedIn).rejects.toThrow('wrong project');
    expect(auth.token).toBeNull();
    expect(client.user).toBeNull();
    client.stop();
  });

  it('shows why a player is banned and until when', async () => {
    const { client, ws, toasts } = await connected('ann');
    ws.text(hello({ id: 'ann', name: 'ann' }));
    client.place(2, 2, 1);
    ws.text({ t: 'error', id: 1, code: 'banned', message: 'griefing', retry_at_ms: Date.now() + 3 * 86_400_000 });
    expect(client.lastPlacement?.reason).toBe('Your account may not place pixels.');
    expect(client.lastPlacement?.detail).toMatch(/^Reason: griefing\. The ban ends on .+ \(in 3 days\)\.$/);
    expect(toasts.items.at(-1)?.detail).toBe(client.lastPlacement?.detail);
    client.place(2, 2, 1);
    ws.text({ t: 'error', id: 2, code: 'banned', message: 'spam' });
    expect(client.lastPlacement?.detail).toBe('Reason: spam. The ban is permanent.');
    client.stop();
  });
});
