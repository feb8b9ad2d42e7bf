import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, DEAD_AFTER_MS, type ConnectionStatus } from '../src/lib/connection';

/** A socket whose far end can vanish without a close (a laptop lid shut, a dropped NAT entry). */
class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  closedWith: number | null = null;
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send() {}
  close(code: number) {
    this.readyState = 3;
    this.closedWith = code;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  tick(seq: number) {
    this.onmessage?.({ data: `{"t":"tick","seq":${seq}}` });
  }
}

describe('the dead-socket watchdog', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function make() {
    const statuses: ConnectionStatus[] = [];
    const c = new Connection({
      url: 'ws://x/ws',
      onText: () => {},
      onBinary: () => {},
      onStatus: (s) => statuses.push(s),
      createSocket: (u) => new FakeSocket(u) as unknown as WebSocket,
      random: () => 0,
    });
    return { c, statuses };
  }

  it('keeps a socket that hears the pods heartbeat every 5 s', () => {
    const { c } = make();
    c.start();
    FakeSocket.all[0].open();
    for (let seq = 1; seq <= 12; seq++) {
      vi.advanceTimersByTime(5_000);
      FakeSocket.all[0].tick(seq);
    }
    expect(FakeSocket.all).toHaveLength(1);
    expect(c.status).toBe('open');
  });

  it('drops a socket silent for the contract time and opens another, without a close event', () => {
    const { c, statuses } = make();
    c.start();
    FakeSocket.all[0].open();
    FakeSocket.all[0].tick(1);
    // the network goes; the browser sees neither a frame nor a close
    vi.advanceTimersByTime(DEAD_AFTER_MS + 2_000);
    expect(FakeSocket.all[0].closedWith).toBe(4000);
    expect(statuses).toContain('reconnecting');
    vi.advanceTimersByTime(1_000);
    expect(FakeSocket.all).toHaveLength(2);
    expect(DEAD_AFTER_MS).toBeLessThanOrEqual(20_000); // PLACE_PING_TIMEOUT_S's default
  });
});
