import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Connection, backoffDelay, socketUrl, type ConnectionStatus } from '../src/lib/connection';

class FakeSocket {
  static all: FakeSocket[] = [];
  readyState = 0;
  binaryType = 'blob';
  sent: string[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: unknown }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeSocket.all.push(this);
  }
  send(t: string) {
    this.sent.push(t);
  }
  close() {
    this.readyState = 3;
  }
  open() {
    this.readyState = 1;
    this.onopen?.();
  }
  drop(code: number) {
    this.readyState = 3;
    this.onclose?.({ code });
  }
}

describe('backoff', () => {
  it('doubles, caps and jitters within [50%, 100%]', () => {
    expect(backoffDelay(0, 500, 15000, () => 0)).toBe(250);
    expect(backoffDelay(0, 500, 15000, () => 1)).toBe(500);
    expect(backoffDelay(3, 500, 15000, () => 1)).toBe(4000);
    expect(backoffDelay(10, 500, 15000, () => 1)).toBe(15000);
    expect(backoffDelay(99, 500, 15000, () => 0.5)).toBe(11250);
  });

  it('builds the socket URL from the page', () => {
    expect(socketUrl({ protocol: 'http:', host: '127.0.0.1:8000' })).toBe('ws://127.0.0.1:8000/ws?v=2');
    expect(socketUrl({ protocol: 'https:', host: 'place.example' })).toBe('wss://place.example/ws?v=2');
  });
});

describe('Connection', () => {
  beforeEach(() => {
    vi.useFakeTimers();
    FakeSocket.all = [];
    vi.stubGlobal('WebSocket', { OPEN: 1 });
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.unstubAllGlobals();
  });

  function make() {
    const statuses: [ConnectionStatus, number][] = [];
    const texts: string[] = [];
    const c = new Connection({
      url: 'ws://x/ws',
      onText: (t) => texts.push(t),
      onBinary: () => undefined,
      onStatus: (s, i) => statuses.push([s, i.retryInMs]),
      createSocket: (u) => new FakeSocket(u) as unknown as WebSocket,
      random: () => 1,
    });
    return { c, statuses, texts };
  }

  it('reconnects with growing delays, and resets them once stable', () => {
    const { c, statuses } = make();
    c.start();
    FakeSocket.all[0].drop(1006);
    expect(statuses.at(-1)).toEqual(['reconnecting', 500]);
    vi.advanceTimersByTime(500);
    expect(FakeSocket.all).toHaveLength(2);
    FakeSocket.all[1].drop(1006);
    expect(statuses.at(-1)).toEqual(['reconnecting', 1000]);
    vi.advanceTimersByTime(1000);
    FakeSocket.all[2].open();
    expect(c.status).toBe('open');
    vi.advanceTimersByTime(6000);
    FakeSocket.all[2].drop(1006);
    expect(statuses.at(-1)).toEqual(['reconnecting', 500]);
  });

  it('reconnects at once after 1012 (service restart)', () => {
    const { c, statuses } = make();
    c.start();
    FakeSocket.all[0].open();
    FakeSocket.all[0].drop(1012);
    const [status, delay] = statuses.at(-1)!;
    expect(status).toBe('reconnecting');
    expect(delay).toBeLessThanOrEqual(250);
    vi.advanceTimersByTime(250);
    expect(FakeSocket.all).toHaveLength(2);
  });

  it('sends only while open, and passes text frames on', () => {
    const { c, texts } = make();
    c.start();
    expect(c.send('x')).toBe(false);
    FakeSocket.all[0].open();
    expect(c.send('y')).toBe(true);
    expect(FakeSocket.all[0].sent).toEqual(['y']);
    FakeSocket.all[0].onmessage?.({ data: '{"t":"tick","seq":1}' });
    expect(texts).toEqual(['{"t":"tick","seq":1}']);
    expect(FakeSocket.all[0].binaryType).toBe('arraybuffer');
  });

  it('stops for good', () => {
    const { c } = make();
    c.start();
    c.stop();
    FakeSocket.all[0].drop(1006);
    vi.advanceTimersByTime(60_000);
    expect(FakeSocket.all).toHaveLength(1);
  });
});
