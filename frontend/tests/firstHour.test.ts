// The page's parts of "the first hour" (issue 14): one name rule with the server's message, "fit"
// clear of the bars, a player count that follows, the first-visit hint.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { NAME_RULE_MESSAGE, checkName, type KeyValueStore } from '../src/lib/auth';
import { HINT_SEEN_KEY, cooldownLine, hintSeen, rememberHintSeen } from '../src/lib/firstVisit';
import { MAX_POLL_MS, MIN_POLL_MS, StatsPoller, pollDelayMs, type Visibility } from '../src/lib/stats.svelte';
import { asSentence, errorText } from '../src/lib/messages';
import { canvasToScreen, fitMargin, fitView, sameView } from '../src/lib/view';

describe('a dev name', () => {
  it('is refused whole, never cut, in the server words (place/api/auth.py DEV_NAME_RULE)', () => {
    expect(NAME_RULE_MESSAGE).toBe('A name is 1 to 32 letters, digits, spaces, dots, dashes or underscores.');
    for (const bad of ['', '   ', 'x'.repeat(33), 'Bartholomew Montgomery-Fitzgerald III xx', 'no!', 'a/b', '😀', 'é'.repeat(33)]) {
      expect(checkName(bad), bad).toEqual({ error: NAME_RULE_MESSAGE });
    }
  });

  it('keeps the server rule: letters and digits of any script, spaces, dots, dashes, underscores', () => {
    for (const good of ['ann', 'x'.repeat(32), 'a.b-c_d 9', 'Zoë', '李小龍', 'Ελένη', '𝐀'.repeat(32)]) {
      expect(checkName(good), good).toEqual({ name: good });
    }
    // as the server gets it: composed accents (the server takes no combining marks), one space
    expect(checkName('  Zoe\u0308   Lee\t')).toEqual({ name: 'Zoë Lee' });
  });
});

describe('fit', () => {
  const canvas = { width: 64, height: 48 };
  const vp = { width: 1280, height: 800 };
  const bars = { top: 52, right: 64, bottom: 140, left: 0 };

  it('puts the whole canvas in what the bars leave visible, centred there', () => {
    const v = fitView(canvas, vp, 24, bars);
    const tl = canvasToScreen(v, vp, 0, 0);
    const br = canvasToScreen(v, vp, canvas.width, canvas.height);
    expect(tl.y).toBeCloseTo(bars.top + 24, 6); // the height limits it here
    expect(br.y).toBeCloseTo(vp.height - bars.bottom - 24, 6);
    expect(tl.x).toBeGreaterThanOrEqual(bars.left + 24);
    expect(br.x).toBeLessThanOrEqual(vp.width - bars.right - 24);
    expect((tl.x + br.x) / 2).toBeCloseTo((bars.left + vp.width - bars.right) / 2, 6);
    // without bars: the old fit
    expect(fitView(canvas, vp, 24)).toEqual(fitView(canvas, vp, 24, { top: 0, right: 0, bottom: 0, left: 0 }));
  });

  it('ignores bars that leave too little room, and keeps less margin on a phone', () => {
    const phone = { width: 375, height: 667 };
    const cramped = fitView(canvas, phone, 12, { top: 100, right: 0, bottom: 480, left: 0 });
    expect(cramped).toEqual(fitView(canvas, phone, 12));
    expect(fitMargin(phone)).toBe(12);
    expect(fitMargin(vp)).toBe(24);
  });

  it('tells a view that is still the fitted one', () => {
    const v = fitView(canvas, vp, 24, bars);
    expect(sameView(v, { ...v })).toBe(true);
    expect(sameView(v, { ...v, cx: v.cx + 0.01 })).toBe(false);
    expect(sameView(v, { ...v, zoom: v.zoom * 2 })).toBe(false);
  });
});

class FakeDocument implements Visibility {
  visibilityState: DocumentVisibilityState = 'visible';
  private listeners = new Set<() => void>();
  addEventListener(_type: 'visibilitychange', listener: () => void): void {
    this.listeners.add(listener);
  }
  removeEventListener(_type: 'visibilitychange', listener: () => void): void {
    this.listeners.delete(listener);
  }
  set(state: DocumentVisibilityState): void {
    this.visibilityState = state;
    for (const l of this.listeners) l();
  }
}

describe('the player count', () => {
  afterEach(() => void vi.useRealTimers());

  it('is asked every second while few play, every 5 s for a crowd', () => {
    expect(pollDelayMs(null)).toBe(MIN_POLL_MS);
    expect(pollDelayMs(1)).toBe(1000);
    expect(pollDelayMs(50)).toBe(1000);
    expect(pollDelayMs(100)).toBe(2000);
    expect(pollDelayMs(250)).toBe(MAX_POLL_MS);
    expect(pollDelayMs(100_000)).toBe(5000);
    // what the pods answer over all pages: at most about 50 polls a second more than every 5 s
    for (const ccu of [1, 10, 50, 100, 250, 1000, 100_000]) {
      expect(ccu / (pollDelayMs(ccu) / 1000) - ccu / 5).toBeLessThanOrEqual(50);
    }
  });

  it('follows a second player within about a second, and asks again once the page is counted', async () => {
    vi.useFakeTimers();
    let ccu = 1;
    const asked: number[] = [];
    const doc = new FakeDocument();
    const poller = new StatsPoller({
      fetch: async () => {
        asked.push(Date.now());
        return { ccu };
      },
      visibility: doc,
    });
    const t0 = Date.now();
    poller.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(poller.ccu).toBe(1);
    ccu = 2; // a second player's connection is in the pods' next report
    await vi.advanceTimersByTimeAsync(1000);
    expect(poller.ccu).toBe(2);

    // A crowd: every 5 s; right after this page's own connection opened, again in 1.2 s.
    ccu = 1000;
    await vi.advanceTimersByTimeAsync(1000);
    const before = asked.length;
    await vi.advanceTimersByTimeAsync(4900);
    expect(asked.length).toBe(before);
    await vi.advanceTimersByTimeAsync(100);
    expect(asked.length).toBe(before + 1);
    poller.refreshSoon();
    await vi.advanceTimersByTimeAsync(1199);
    expect(asked.length).toBe(before + 1);
    await vi.advanceTimersByTimeAsync(1);
    expect(asked.length).toBe(before + 2);
    await vi.advanceTimersByTimeAsync(4000);
    expect(asked.length).toBe(before + 2);
    poller.refreshSoon(); // the regular poll is due sooner than that: no extra one
    await vi.advanceTimersByTimeAsync(1000);
    expect(asked.length).toBe(before + 3);
    await vi.advanceTimersByTimeAsync(1200);
    expect(asked.length).toBe(before + 3);

    // Hidden: no polls; visible again: one at once.
    doc.set('hidden');
    await vi.advanceTimersByTimeAsync(20_000);
    const hidden = asked.length;
    expect(hidden).toBe(before + 3);
    doc.set('visible');
    await vi.advanceTimersByTimeAsync(0);
    expect(asked.length).toBe(hidden + 1);
    poller.stop();
    await vi.advanceTimersByTimeAsync(20_000);
    expect(asked.length).toBe(hidden + 1);
    expect(asked[0]).toBe(t0);
  });
});

describe('the first-visit hint', () => {
  function memoryStore(): KeyValueStore {
    const m = new Map<string, string>();
    return { getItem: (k) => m.get(k) ?? null, setItem: (k, v) => void m.set(k, v), removeItem: (k) => void m.delete(k) };
  }

  it('says the cooldown in words once the server said it', () => {
    expect(cooldownLine(null)).toBe('');
    expect(cooldownLine(300_000)).toBe('One pixel every 5 minutes.');
    expect(cooldownLine(30_000)).toBe('One pixel every 30 seconds.');
    expect(cooldownLine(0)).toBe('No waiting between pixels here.');
  });

  it('is remembered as seen, and shown again where storage is blocked', () => {
    const store = memoryStore();
    expect(hintSeen(store)).toBe(false);
    rememberHintSeen(store);
    expect(hintSeen(store)).toBe(true);
    expect(store.getItem(HINT_SEEN_KEY)).toBe('1');
    const blocked: KeyValueStore = {
      getItem: () => {
        throw new Error('blocked');
      },
      setItem: () => {
        throw new Error('blocked');
      },
      removeItem: () => {},
    };
    rememberHintSeen(blocked);
    expect(hintSeen(blocked)).toBe(false);
    expect(hintSeen(null)).toBe(false);
  });
});

describe("the server's reasons", () => {
  it('are said as sentences, like the page says things', () => {
    expect(asSentence('the sign-in token has expired; sign in again')).toBe('The sign-in token has expired; sign in again.');
    expect(asSentence(NAME_RULE_MESSAGE)).toBe(NAME_RULE_MESSAGE);
    expect(asSentence('  ')).toBe('');
    expect(errorText('unavailable', 'sign-in is unavailable right now; try again shortly').detail).toBe(
      'Sign-in is unavailable right now; try again shortly.',
    );
    expect(errorText('unauthenticated', 'Sign in to place pixels.').detail).toBe('');
  });
});
