import { describe, expect, it } from 'vitest';
import { DevAuthProvider, authKind, checkName, createAuthProvider, type KeyValueStore } from '../src/lib/auth';
import { errorText } from '../src/lib/messages';
import { colorName, packRGBA, paletteTable, parseHex, unpackRGBA } from '../src/lib/palette';
import { ServerClock, formatAgo, formatCountdown, formatDurationWords, remainingMs } from '../src/lib/time';

function memoryStore(): KeyValueStore {
  const m = new Map<string, string>();
  return {
    getItem: (k) => m.get(k) ?? null,
    setItem: (k, v) => void m.set(k, v),
    removeItem: (k) => void m.delete(k),
  };
}

describe('palette', () => {
  it('parses and packs colours in ImageData byte order', () => {
    expect(parseHex('#ff4500')).toEqual([255, 69, 0]);
    expect(parseHex('#abc')).toEqual([0xaa, 0xbb, 0xcc]);
    expect(parseHex('red')).toBeNull();
    expect(unpackRGBA(packRGBA([1, 2, 3]))).toEqual([1, 2, 3, 255]);
    const t = paletteTable(['#000000', 'nonsense']);
    expect(t.length).toBe(256);
    expect(unpackRGBA(t[0])).toEqual([0, 0, 0, 255]);
    expect(unpackRGBA(t[1])).toEqual([255, 0, 255, 255]);
    expect(unpackRGBA(t[200])).toEqual([255, 0, 255, 255]);
    expect(colorName('#FF4500')).toBe('red');
    expect(colorName('#123456')).toBe('#123456');
  });
});

describe('time', () => {
  it('formats countdowns and durations', () => {
    expect(formatCountdown(299_001)).toBe('5:00');
    expect(formatCountdown(9_000)).toBe('0:09');
    expect(formatCountdown(3_723_000)).toBe('1:02:03');
    expect(formatCountdown(-5)).toBe('0:00');
    expect(formatDurationWords(61_000)).toBe('1 minute 1 second');
    expect(formatDurationWords(0)).toBe('0 seconds');
    expect(formatAgo(1000, 3000)).toBe('just now');
    expect(formatAgo(0, 5 * 60_000)).toBe('5 min ago');
  });

  it('corrects a skewed local clock from placed', () => {
    let local = 1_000_000;
    const clock = new ServerClock(() => local);
    // server is 60 s ahead: it answers next=server_now+cooldown
    clock.observePlaced(1_060_000 + 300_000, 300_000);
    expect(clock.now()).toBe(1_060_000);
    local += 1000;
    expect(remainingMs(1_360_000, clock.now(), 300_000)).toBe(299_000);
    expect(remainingMs(99_999_999, clock.now(), 300_000)).toBe(300_000); // never more than the cooldown
    expect(remainingMs(0, clock.now())).toBe(0);
  });
});

describe('auth', () => {
  it('treats a missing auth field as dev', () => {
    expect(authKind({})).toBe('dev');
    expect(authKind(null)).toBe('dev');
    expect(authKind({ auth: 'firebase' })).toBe('firebase');
    expect(authKind({ auth: { provider: 'firebase', apiKey: 'k' } })).toBe('firebase');
    expect(createAuthProvider({}, null).kind).toBe('dev');
    expect(createAuthProvider({ auth: 'firebase' }, null).asksForName).toBe(false);
  });

  it('dev: the token is the remembered name', async () => {
    const store = memoryStore();
    const a = new DevAuthProvider(store);
    expect(await a.getToken()).toBeNull();
    await a.signIn('  Ann   Lee ');
    expect(await a.getToken()).toBe('Ann Lee');
    expect(await new DevAuthProvider(store).getToken()).toBe('Ann Lee'); // after a reload
    await a.signOut();
    expect(await a.getToken()).toBeNull();
    await expect(a.signIn('   ')).rejects.toThrow(/name/);
    expect(checkName('x'.repeat(33))).toHaveProperty('error');
  });
});

describe('messages', () => {
  it('says what happened in words', () => {
    expect(errorText('cooldown', '', 90_000).title).toBe('Not yet: you can place again in 1 minute 30 seconds.');
    // `banned`: the message is the reason; no retry_at_ms means the ban never ends.
    expect(errorText('banned', 'griefing')).toEqual({
      title: 'Your account may not place pixels.',
      detail: 'Reason: griefing. The ban is permanent.',
    });
    expect(errorText('weird_new_code', '').title).toMatch(/weird_new_code/);
  });
});
