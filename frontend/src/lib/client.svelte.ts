/**
 * The page's model of the game: one connection, the canvas it feeds, the player, their placements.
 * Reactive fields ($state) drive the components; pixels are not reactive (the renderer listens).
 */
import type { AuthProvider, SignInRequest } from './auth';
import { CanvasState } from './canvasState';
import { Connection, type ConnectionStatus, type StatusInfo } from './connection';
import { CanvasFeed } from './feed';
import { asSentence, errorText } from './messages';
import {
  decodeText,
  encodeAuth,
  encodePlace,
  encodeResync,
  type Hello,
  type Placed,
  type ServerError,
  type User,
} from './protocol';
import { NO_SCHEDULE, readSchedule, type Schedule } from './schedule';
import { ServerClock, remainingMs } from './time';
import type { Toasts } from './toasts.svelte';

/** What the player is told about the connection. */
export type LiveStatus = 'connecting' | 'live' | 'reconnecting';

/** The player's latest placement, as the place bar and reticle show it. */
export interface Placement {
  id: number;
  x: number;
  y: number;
  c: number;
  status: 'pending' | 'placed' | 'failed';
  reason?: string;
  /** More about a failure worth keeping in sight (a ban: its reason and when it ends). */
  detail?: string;
}

export type PlaceOutcome = 'sent' | 'sign-in' | 'cooldown' | 'offline' | 'closed' | 'busy' | 'invalid';

export interface ClientOptions {
  url: string;
  toasts: Toasts;
  auth: AuthProvider | null;
  /** The embed: watches only, never signs in. */
  readOnly?: boolean;
  /** How long a placement may wait for its answer. */
  answerTimeoutMs?: number;
  /** How long a confirmed placement stays drawn over the canvas if no delta carries it. */
  confirmHoldMs?: number;
  /** For tests: a stand-in for `new WebSocket(url)`. */
  createSocket?: (url: string) => WebSocket;
}

interface InFlight {
  x: number;
  y: number;
  c: number;
  timer: ReturnType<typeof setTimeout>;
}

export class PlaceClient {
  status = $state<LiveStatus>('connecting');
  /** Local time (ms) of the next reconnect attempt while reconnecting. */
  retryAt = $state(0);
  width = $state(0);
  height = $state(0);
  palette = $state<string[]>([]);
  cooldownMs = $state(0);
  open = $state(true);
  /** A pending opening or closing (`hello`'s opens_at_ms / closes_at_ms), for the countdown. */
  schedule = $state<Schedule>(NO_SCHEDULE);
  user = $state<User | null>(null);
  /** Server-clock ms when the player may place again. */
  nextPlaceAtMs = $state(0);
  /** A sign-in has been sent and not answered yet. */
  signingIn = $state(false);
  /** The sign-in provider in use (reactive, for the dialog); null until `GET /api/config` said which. */
  auth = $state.raw<AuthProvider | null>(null);
  lastPlacement = $state<Placement | null>(null);
  /** True while a placement waits for its answer. */
  placing = $state(false);
  /** Reactive "now" on the server's clock, ticking once a second while something counts down. */
  now = $state(Date.now());

  readonly state = new CanvasState();
  readonly clock = new ServerClock();
  readonly feed: CanvasFeed;
  private readonly conn: Connection;
  private readonly listeners = new Set<() => void>();
  private readonly inFlight = new Map<number, InFlight>();
  /** pixel index -> id of the newest placement drawn there, so an old timer never erases a newer one. */
  private readonly overlayOwner = new Map<number, number>();
  private nextId = 1;
  private authSent = false;
  /** The token sent on this connection (answered or not): a token change sends only a new one. */
  private tokenSent: string | null = null;
  /** The first hello on this connection has come (auth is sent after it). */
  private helloSeen = false;
  /** A refused token was retried once with a fresh one (a token the SDK thought valid, e.g. a wrong clock). */
  private retriedFresh = false;
  /** `token_expired`: a fresh token is on its way; say so when the server took it. */
  private renewing = false;
  private unsubscribeToken: (() => void) | null = null;
  /** Say "signed in" when the answer comes (not on the silent re-auth after a reconnect). */
  private announceSignIn = false;
  private signInWaiter: {
    resolve: () => void;
    reject: (error: Error) => void;
    timer: ReturnType<typeof setTimeout>;
  } | null = null;
  private openedAt = 0;
  private everLive = false;
  private intervals: ReturnType<typeof setInterval>[] = [];
  private readonly o: Required<Omit<ClientOptions, 'auth' | 'createSocket'>>;

  constructor(options: ClientOptions) {
    const { createSocket, auth, ...rest } = options;
    this.o = { readOnly: false, answerTimeoutMs: 10_000, confirmHoldMs: 5_000, ...rest };
    this.feed = new CanvasFeed({
      state: this.state,
      requestResync: () => this.conn.send(encodeResync()),
      onChange: (kind) => {
        if (kind === 'snapshot') {
          this.width = this.state.width;
          this.height = this.state.height;
          if (this.conn.status === 'open') this.setLive();
        }
        this.notify();
      },
    });
    this.conn = new Connection({
      url: options.url,
      onOpen: () => this.onOpen(),
      onText: (t) => this.onText(t),
      onBinary: (b) => this.feed.pushBinary(b),
      onStatus: (s, info) => this.onStatus(s, info),
      ...(createSocket ? { createSocket } : {}),
    });
    if (auth) this.setAuth(auth);
  }

  /**
   * Use this sign-in provider (the one GET /api/config named). Its token is sent on the open
   * connection, and again whenever it changes (refreshed, signed in or out elsewhere).
   */
  setAuth(auth: AuthProvider): void {
    this.unsubscribeToken?.();
    this.unsubscribeToken = null;
    this.auth = auth;
    if (this.o.readOnly) return;
    this.unsubscribeToken = auth.onTokenChange?.((token) => this.onTokenChange(auth, token)) ?? null;
    if (this.helloSeen && !this.authSent) void this.sendAuth();
  }

  get authProvider(): AuthProvider | null {
    return this.auth;
  }

  get readOnly(): boolean {
    return this.o.readOnly;
  }

  start(): void {
    this.conn.start();
    this.intervals.push(setInterval(() => this.watchdog(), 2000));
    // 4 Hz so a countdown turns within a quarter second of the true second.
    this.intervals.push(setInterval(() => (this.now = this.clock.now()), 250));
    if (typeof window !== 'undefined') {
      window.addEventListener('online', this.wake);
      document.addEventListener('visibilitychange', this.wake);
    }
  }

  stop(): void {
    this.unsubscribeToken?.();
    this.unsubscribeToken = null;
    this.conn.stop();
    for (const i of this.intervals) clearInterval(i);
    this.intervals = [];
    if (typeof window !== 'undefined') {
      window.removeEventListener('online', this.wake);
      document.removeEventListener('visibilitychange', this.wake);
    }
  }

  /** Called (outside Svelte) whenever pixels change; returns an unsubscribe function. */
  onCanvasChange(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Milliseconds until the player may place (0: now). */
  cooldownLeft(now = this.now): number {
    return remainingMs(this.nextPlaceAtMs, now, this.cooldownMs > 0 ? this.cooldownMs : 0);
  }

  // ------------------------------------------------------------ sign-in

  /**
   * Sign in (dev: with a name; Firebase: Google or an email link). Resolves when the server accepted
   * it (or when offline: it is sent on reconnect; or after 5 s without an answer), rejects with the
   * provider's or the server's reason when refused.
   */
  async signIn(request?: SignInRequest): Promise<void> {
    const auth = this.auth;
    if (!auth || this.o.readOnly) return;
    this.settleSignIn();
    // Before the provider's own sign-in: a provider reporting token changes may have it sent meanwhile.
    this.announceSignIn = true;
    try {
      await auth.signIn(request);
    } catch (err) {
      this.announceSignIn = false;
      throw err;
    }
    const answered = new Promise<void>((resolve, reject) => {
      this.signInWaiter = { resolve, reject, timer: setTimeout(() => this.settleSignIn(), 5000) };
    });
    if (!(await this.sendAuth())) this.settleSignIn();
    else if (this.user && !this.signingIn) {
      // That very token was sent and accepted already (a token change got there first).
      this.announceSignIn = false;
      this.settleSignIn();
    }
    return answered;
  }

  private settleSignIn(refusal?: string): void {
    const w = this.signInWaiter;
    if (!w) return;
    this.signInWaiter = null;
    clearTimeout(w.timer);
    if (refusal === undefined) w.resolve();
    else w.reject(new Error(refusal));
  }

  async signOut(): Promise<void> {
    await this.auth?.signOut();
    // (A provider reporting token changes may have dropped the identity already.)
    if (this.user || this.authSent) this.dropIdentity();
  }

  /** The protocol has no sign-out: a fresh connection is a signed-out one. */
  private dropIdentity(): void {
    this.user = null;
    this.authSent = false;
    this.tokenSent = null;
    this.signingIn = false;
    this.renewing = false;
    this.conn.reconnectNow();
  }

  private onTokenChange(auth: AuthProvider, token: string | null): void {
    if (auth !== this.auth) return;
    if (token === null) {
      // Signed out (in another tab, or the account was disabled): this connection must forget who it was.
      if (this.user || this.authSent) this.dropIdentity();
      return;
    }
    if (this.helloSeen && token !== this.tokenSent) void this.sendAuth();
  }

  /** Send the provider's token (a fresh one with `forceRefresh`) unless this connection has it already. */
  private async sendAuth(forceRefresh = false): Promise<boolean> {
    const auth = this.auth;
    if (!auth || this.o.readOnly) return false;
    const token = await auth.getToken(forceRefresh);
    if (!token || auth !== this.auth) return false;
    if (token === this.tokenSent && this.conn.status === 'open') return true;
    if (!this.conn.send(encodeAuth(token))) return false;
    this.tokenSent = token;
    this.authSent = true;
    this.signingIn = true;
    return true;
  }

  /** `token_expired`: get a fresh token and send it; the player places again once it is taken. */
  private renewToken(): void {
    if (this.renewing) return;
    this.renewing = true;
    void this.sendAuth(true).then((sent) => {
      if (sent) return;
      this.renewing = false;
      this.o.toasts.show('error', 'Your sign-in has expired.', 'Sign in again to place pixels.');
    });
  }

  // ------------------------------------------------------------ placing

  /** Place colour `c` at (x, y): shown at once, confirmed or rolled back by the server's answer. */
  place(x: number, y: number, c: number): PlaceOutcome {
    if (this.o.readOnly) return 'invalid';
    if (!this.state.inBounds(x, y) || c < 0 || c >= this.palette.length) return 'invalid';
    if (!this.user) return 'sign-in';
    if (this.status !== 'live') return 'offline';
    if (!this.open) return 'closed';
    if (this.placing) return 'busy';
    if (this.cooldownLeft(this.clock.now()) > 0) return 'cooldown';
    const id = this.nextId++;
    if (!this.conn.send(encodePlace(id, x, y, c))) return 'offline';
    this.state.setPending(x, y, c);
    this.overlayOwner.set(y * this.state.width + x, id);
    const timer = setTimeout(() => this.fail(id, 'timeout', ''), this.o.answerTimeoutMs);
    this.inFlight.set(id, { x, y, c, timer });
    this.placing = true;
    this.lastPlacement = { id, x, y, c, status: 'pending' };
    this.notify();
    return 'sent';
  }

  private onPlaced(msg: Placed): void {
    const id = typeof msg.id === 'number' ? msg.id : -1;
    const p = this.inFlight.get(id);
    this.nextPlaceAtMs = msg.next_place_at_ms;
    this.clock.observePlaced(msg.next_place_at_ms, this.cooldownMs);
    this.now = this.clock.now();
    if (!p) return;
    clearTimeout(p.timer);
    this.inFlight.delete(id);
    this.placing = this.inFlight.size > 0;
    this.state.confirm(p.x, p.y);
    const i = p.y * this.state.width + p.x;
    const size = this.state.sizeVersion;
    setTimeout(() => {
      if (this.overlayOwner.get(i) === id && this.state.sizeVersion === size) {
        this.overlayOwner.delete(i);
        this.state.clearOverlay(p.x, p.y);
        this.notify();
      }
    }, this.o.confirmHoldMs);
    if (this.lastPlacement?.id === id) this.lastPlacement = { ...this.lastPlacement, status: 'placed' };
  }

  private onError(msg: ServerError): void {
    const id = typeof msg.id === 'number' ? msg.id : -1;
    if (msg.code === 'cooldown' && msg.retry_at_ms) this.nextPlaceAtMs = msg.retry_at_ms;
    if (msg.code === 'token_expired') this.renewToken();
    if (this.inFlight.has(id)) {
      this.fail(id, msg.code, msg.message, msg.retry_at_ms);
      if (msg.code === 'unauthenticated') this.user = null;
      return;
    }
    if (msg.code === 'token_expired') return; // said with the placement it refused
    if ((msg.code === 'unauthenticated' || msg.code === 'unavailable') && this.signingIn) {
      // The sign-in itself was not taken: a later attempt sends the token again.
      this.signingIn = false;
      this.tokenSent = null;
      this.authSent = false;
      this.renewing = false;
      if (msg.code === 'unauthenticated' && this.auth?.onTokenChange && !this.retriedFresh) {
        // A token its provider thought valid (a wrong clock, say): once more with a fresh one.
        this.retriedFresh = true;
        void this.sendAuth(true);
        return;
      }
      if (msg.code === 'unauthenticated') {
        // Refused: forget the token so it is not sent again on reconnect.
        this.user = null;
        this.announceSignIn = false;
        void this.auth?.signOut();
        const reason = asSentence(msg.message) || 'The server did not accept it.';
        if (this.signInWaiter) this.settleSignIn(reason); // the sign-in form shows it
        else this.o.toasts.show('error', 'Sign-in failed.', reason);
        return;
      }
      if (this.signInWaiter) {
        this.settleSignIn(errorText(msg.code, msg.message).title);
        return;
      }
    }
    const t = errorText(msg.code, msg.message, this.retryIn(msg.retry_at_ms));
    this.o.toasts.show('error', t.title, t.detail);
  }

  private fail(id: number, code: string, message: string, retryAtMs?: number): void {
    const p = this.inFlight.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.inFlight.delete(id);
    this.placing = this.inFlight.size > 0;
    const i = p.y * this.state.width + p.x;
    if (this.overlayOwner.get(i) === id) {
      this.overlayOwner.delete(i);
      this.state.clearOverlay(p.x, p.y);
    }
    const t = errorText(code, message, this.retryIn(retryAtMs));
    if (this.lastPlacement?.id === id) {
      this.lastPlacement = {
        ...this.lastPlacement,
        status: 'failed',
        reason: t.title,
        ...(code === 'banned' ? { detail: t.detail } : {}),
      };
    }
    this.o.toasts.show('error', t.title, t.detail);
    this.notify();
  }

  private retryIn(retryAtMs?: number): number | undefined {
    return retryAtMs ? remainingMs(retryAtMs, this.clock.now()) : undefined;
  }

  // ------------------------------------------------------------ connection

  private onOpen(): void {
    this.openedAt = Date.now();
    this.authSent = false;
    this.tokenSent = null;
    this.helloSeen = false;
    this.retriedFresh = false;
    this.feed.expectSnapshot();
  }

  private onStatus(status: ConnectionStatus, info: StatusInfo): void {
    if (status === 'reconnecting') {
      this.status = 'reconnecting';
      this.retryAt = Date.now() + info.retryInMs;
      this.signingIn = false;
      for (const id of [...this.inFlight.keys()]) {
        this.fail(id, 'disconnected', 'If it was stored, it will show up once the page is back online.');
      }
    }
  }

  private setLive(): void {
    this.status = 'live';
    this.retryAt = 0;
    if (!this.everLive) {
      this.everLive = true;
      performance.mark('place:live');
    }
  }

  private onText(text: string): void {
    let msg;
    try {
      msg = decodeText(text);
    } catch (err) {
      console.warn(`[place] ${String(err)}`);
      return;
    }
    if (!msg) return; // a message type this page does not know
    switch (msg.t) {
      case 'hello':
        this.onHello(msg);
        this.schedule = readSchedule(text);
        break;
      case 'placed':
        this.onPlaced(msg);
        break;
      case 'error':
        this.onError(msg);
        break;
      case 'tick':
        this.feed.pushTick(msg.seq);
        break;
      case 'sum':
        this.feed.pushSum(msg.seq, msg.crc32);
        break;
    }
  }

  private onHello(h: Hello): void {
    if (this.state.hasSnapshot && (h.width !== this.state.width || h.height !== this.state.height)) {
      this.feed.expectSnapshot(); // a snapshot of the new size follows
    }
    if (this.state.setPalette(h.palette)) this.notify();
    this.palette = h.palette;
    // width/height follow the snapshot (the pixels), not the hello: a snapshot of the new size follows.
    this.cooldownMs = h.cooldown_ms;
    this.open = h.open;
    this.nextPlaceAtMs = h.next_place_at_ms;
    this.now = this.clock.now();
    this.helloSeen = true;
    if (h.user) {
      this.user = h.user;
      this.signingIn = false;
      this.retriedFresh = false;
      if (this.announceSignIn) this.o.toasts.show('success', `Signed in as ${h.user.name}.`);
      else if (this.renewing) this.o.toasts.show('success', 'Sign-in renewed: you can place again.');
      this.announceSignIn = false;
      this.renewing = false;
      this.settleSignIn();
    } else {
      this.user = null;
      if (!this.o.readOnly && !this.authSent) void this.sendAuth();
    }
  }

  /** A socket that hears nothing for 15 s is taken for dead by `Connection` itself; here, a
   *  connection open 5 s without a canvas asks for one. */
  private watchdog(): void {
    if (this.conn.status !== 'open') return;
    if (!this.state.hasSnapshot && Date.now() - this.openedAt > 5_000) this.feed.resync('no snapshot yet');
  }

  private readonly wake = (): void => {
    if (document.visibilityState === 'visible' && this.status === 'reconnecting') this.conn.reconnectNow();
  };

  private notify(): void {
    for (const fn of this.listeners) fn();
  }
}
