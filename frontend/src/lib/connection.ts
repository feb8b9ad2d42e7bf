/**
 * The websocket to `/ws`, kept open: reconnects with exponential backoff and jitter, at once after a
 * close with 1012 (the pod restarts; another one takes the connection). Knows nothing of messages.
 */
import { CLOSE_SERVICE_RESTART } from './protocol';

export type ConnectionStatus =
  /** First attempt, nothing received yet. */
  | 'connecting'
  /** The socket is open. */
  | 'open'
  /** Lost; waiting `retryInMs` before the next attempt, or attempting. */
  | 'reconnecting';

export interface StatusInfo {
  /** Consecutive failed attempts. */
  attempt: number;
  /** Delay before the next attempt (reconnecting only). */
  retryInMs: number;
  /** Close code of the socket that went (reconnecting only). */
  closeCode: number | null;
}

export interface ConnectionOptions {
  url: string;
  onOpen?: () => void;
  onText: (data: string) => void;
  onBinary: (data: ArrayBuffer) => void;
  onStatus?: (status: ConnectionStatus, info: StatusInfo) => void;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** After the socket lived this long, the next loss starts the backoff from the start. */
  stableAfterMs?: number;
  createSocket?: (url: string) => WebSocket;
  random?: () => number;
  /** An open socket that hears nothing this long is taken for dead, closed and replaced. */
  deadAfterMs?: number;
}

/**
 * The dead-socket watchdog's limit. Pods send every player `{"t":"tick","seq":N}` every 5 s (and
 * deltas as they come), so three missed heartbeats mean the socket is gone even though the browser
 * saw no close (a dropped NAT entry, a sleeping laptop); the pod closes its end within
 * `PLACE_PING_TIMEOUT_S` (20 s) likewise.
 */
export const DEAD_AFTER_MS = 15_000;

/** Delay before attempt `attempt` (0-based): base * 2^attempt capped at max, jittered to [50%, 100%]. */
export function backoffDelay(attempt: number, baseMs: number, maxMs: number, random: () => number): number {
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * `ws://host/ws?v=2` or `wss://host/ws?v=2` for a page location: v2 asks for compact deltas (0x03) and
 * checksums instead of a whole snapshot every minute (SPEC.md).
 */
export function socketUrl(loc: { protocol: string; host: string }): string {
  return `${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/ws?v=2`;
}

export class Connection {
  status: ConnectionStatus = 'connecting';
  private socket: WebSocket | null = null;
  private attempt = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private openedAt = 0;
  private heardAt = 0;
  private watchdog: ReturnType<typeof setInterval> | null = null;
  private stopped = true;
  private readonly o: Required<Omit<ConnectionOptions, 'onOpen' | 'onStatus'>> &
    Pick<ConnectionOptions, 'onOpen' | 'onStatus'>;

  constructor(options: ConnectionOptions) {
    this.o = {
      baseDelayMs: 500,
      maxDelayMs: 15_000,
      stableAfterMs: 5_000,
      createSocket: (url) => new WebSocket(url),
      random: Math.random,
      deadAfterMs: DEAD_AFTER_MS,
      ...options,
    };
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.open();
    this.watchdog = setInterval(() => {
      if (this.status === 'open' && this.socket && Date.now() - this.heardAt > this.o.deadAfterMs) {
        this.reconnectNow();
      }
    }, Math.min(1_000, this.o.deadAfterMs / 5));
  }

  stop(): void {
    this.stopped = true;
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
    this.clearTimer();
    const s = this.socket;
    this.socket = null;
    if (s) {
      this.detach(s);
      s.close(1000);
    }
  }

  /** Send a text frame; false (not sent) when the socket is not open. */
  send(text: string): boolean {
    const s = this.socket;
    if (!s || s.readyState !== 1 /* OPEN */) return false;
    s.send(text);
    return true;
  }

  /** Skip the wait: the network is back, or the player asked. */
  reconnectNow(): void {
    if (this.stopped) return;
    if (this.status === 'open' && this.socket) {
      // A socket believed dead (no heartbeat): drop it and start over.
      const s = this.socket;
      this.socket = null;
      this.detach(s);
      s.close(4000, 'client watchdog');
      this.lost(null, 0);
      return;
    }
    if (this.timer !== null) {
      this.clearTimer();
      this.open();
    }
  }

  private open(): void {
    this.clearTimer();
    let s: WebSocket;
    try {
      s = this.o.createSocket(this.o.url);
    } catch {
      this.lost(null, this.nextDelay());
      return;
    }
    s.binaryType = 'arraybuffer';
    this.socket = s;
    s.onopen = () => {
      this.openedAt = Date.now();
      this.heardAt = this.openedAt;
      this.setStatus('open', { attempt: this.attempt, retryInMs: 0, closeCode: null });
      this.o.onOpen?.();
    };
    s.onmessage = (ev: MessageEvent) => {
      this.heardAt = Date.now();
      if (typeof ev.data === 'string') this.o.onText(ev.data);
      else if (ev.data instanceof ArrayBuffer) this.o.onBinary(ev.data);
    };
    s.onclose = (ev: CloseEvent) => {
      if (this.socket !== s) return;
      this.socket = null;
      const wasOpen = this.openedAt > 0;
      if (wasOpen && Date.now() - this.openedAt >= this.o.stableAfterMs) this.attempt = 0;
      this.openedAt = 0;
      if (ev.code === CLOSE_SERVICE_RESTART) {
        // Planned restart: the load balancer has other pods. Go at once; a little jitter spreads the herd.
        this.lost(ev.code, Math.round(this.o.random() * 250));
      } else {
        this.lost(ev.code, this.nextDelay());
      }
    };
    s.onerror = () => {
      // onclose follows and decides.
    };
  }

  private nextDelay(): number {
    const d = backoffDelay(this.attempt, this.o.baseDelayMs, this.o.maxDelayMs, this.o.random);
    this.attempt++;
    return d;
  }

  private lost(closeCode: number | null, delay: number): void {
    if (this.stopped) return;
    this.setStatus('reconnecting', { attempt: this.attempt, retryInMs: delay, closeCode });
    this.clearTimer();
    this.timer = setTimeout(() => {
      this.timer = null;
      this.open();
    }, delay);
  }

  private setStatus(status: ConnectionStatus, info: StatusInfo): void {
    this.status = status;
    this.o.onStatus?.(status, info);
  }

  private clearTimer(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  private detach(s: WebSocket): void {
    s.onopen = null;
    s.onmessage = null;
    s.onclose = null;
    s.onerror = null;
  }
}
