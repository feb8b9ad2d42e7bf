import { describe, expect, it } from 'vitest';
import { CanvasState } from '../src/lib/canvasState';
import { packRGBA } from '../src/lib/palette';
import type { Delta } from '../src/lib/protocol';

const PALETTE = ['#ffffff', '#000000', '#ff4500', '#2450a4'];
const WHITE = packRGBA([255, 255, 255]);
const BLACK = packRGBA([0, 0, 0]);
const RED = packRGBA([255, 69, 0]);

const delta = (seq: number, pixels: number[], colors: number[]): Delta => ({
  kind: 'delta',
  seq,
  pixels: Uint32Array.from(pixels),
  colors: Uint8Array.from(colors),
});

function loaded(w = 4, h = 3, seq = 10): CanvasState {
  const s = new CanvasState();
  s.setPalette(PALETTE);
  s.loadSnapshot(seq, w, h, new Uint8Array(w * h));
  s.takeDirty();
  return s;
}

describe('CanvasState', () => {
  it('loads a snapshot and colours it through the palette', () => {
    const s = new CanvasState();
    s.setPalette(PALETTE);
    s.loadSnapshot(5, 3, 2, Uint8Array.from([0, 1, 2, 3, 0, 1]));
    expect(s.seq).toBe(5);
    expect(s.hasSnapshot).toBe(true);
    expect([s.width, s.height]).toEqual([3, 2]);
    expect(s.shownIndex(2, 0)).toBe(2);
    expect(s.pixels[1]).toBe(BLACK);
    expect(s.pixels[2]).toBe(RED);
    expect([...s.rgba.subarray(8, 12)]).toEqual([255, 69, 0, 255]);
    expect(s.takeDirty()).toEqual({ x: 0, y: 0, w: 3, h: 2 });
  });

  it('applies the next delta and marks only its rectangle dirty', () => {
    const s = loaded();
    expect(s.applyDelta(delta(11, [1 * 4 + 1, 2 * 4 + 3], [2, 1]))).toBe('applied');
    expect(s.seq).toBe(11);
    expect(s.shownIndex(1, 1)).toBe(2);
    expect(s.shownIndex(3, 2)).toBe(1);
    expect(s.pixels[5]).toBe(RED);
    expect(s.takeDirty()).toEqual({ x: 1, y: 1, w: 3, h: 2 });
    expect(s.takeDirty()).toBeNull();
  });

  it('ignores deltas with seq <= the snapshot', () => {
    const s = loaded(4, 3, 10);
    expect(s.applyDelta(delta(10, [0], [1]))).toBe('stale');
    expect(s.applyDelta(delta(3, [0], [1]))).toBe('stale');
    expect(s.shownIndex(0, 0)).toBe(0);
    expect(s.seq).toBe(10);
  });

  it('reports a gap (and still applies the newer pixels)', () => {
    const s = loaded(4, 3, 10);
    expect(s.applyDelta(delta(12, [0], [1]))).toBe('gap');
    expect(s.seq).toBe(12);
    expect(s.shownIndex(0, 0)).toBe(1);
    expect(s.applyDelta(delta(13, [1], [1]))).toBe('applied');
  });

  it('drops deltas before any snapshot and after expectSnapshot', () => {
    const s = new CanvasState();
    expect(s.applyDelta(delta(1, [0], [1]))).toBe('no-snapshot');
    const t = loaded();
    t.expectSnapshot();
    expect(t.applyDelta(delta(11, [0], [1]))).toBe('no-snapshot');
    t.loadSnapshot(11, 4, 3, new Uint8Array(12));
    expect(t.applyDelta(delta(12, [0], [1]))).toBe('applied');
  });

  it('flags pixel indices past the canvas as corrupt and skips them', () => {
    const s = loaded(4, 3, 10);
    expect(s.applyDelta(delta(11, [2, 12, 9999], [1, 1, 1]))).toBe('corrupt');
    expect(s.shownIndex(2, 0)).toBe(1);
  });

  it('follows a resize: new dimensions, new buffers', () => {
    const s = loaded(4, 3, 10);
    const before = s.sizeVersion;
    s.loadSnapshot(20, 6, 5, Uint8Array.from({ length: 30 }, (_, i) => i % 4));
    expect([s.width, s.height, s.seq]).toEqual([6, 5, 20]);
    expect(s.pixels.length).toBe(30);
    expect(s.rgba.length).toBe(120);
    expect(s.sizeVersion).toBe(before + 1);
    expect(s.shownIndex(5, 4)).toBe(29 % 4);
    expect(s.shownIndex(6, 0)).toBe(-1);
    // deltas now index with the new width
    expect(s.applyDelta(delta(21, [4 * 6 + 5], [2]))).toBe('applied');
    expect(s.shownIndex(5, 4)).toBe(2);
  });

  it('refuses a snapshot whose byte count does not match its size', () => {
    expect(() => new CanvasState().loadSnapshot(1, 3, 3, new Uint8Array(8))).toThrow(RangeError);
  });

  it('recolours everything when the palette changes', () => {
    const s = loaded(2, 1, 1);
    expect(s.pixels[0]).toBe(WHITE);
    expect(s.setPalette(PALETTE)).toBe(false);
    expect(s.setPalette(['#000000', '#ffffff'])).toBe(true);
    expect(s.pixels[0]).toBe(BLACK);
    expect(s.takeDirty()).toEqual({ x: 0, y: 0, w: 2, h: 1 });
  });

  it('shows a pending placement over the truth until the server decides', () => {
    const s = loaded(4, 3, 10);
    s.setPending(1, 0, 2);
    expect(s.shownIndex(1, 0)).toBe(2);
    expect(s.serverIndex(1, 0)).toBe(0);
    // someone else's delta touching it while ours is in flight: ours stays shown
    s.applyDelta(delta(11, [1], [3]));
    expect(s.shownIndex(1, 0)).toBe(2);
    expect(s.serverIndex(1, 0)).toBe(3);
    // refused: rolled back to the truth
    s.clearOverlay(1, 0);
    expect(s.shownIndex(1, 0)).toBe(3);
    expect(s.pixels[1]).toBe(packRGBA([0x24, 0x50, 0xa4]));
  });

  it('drops a confirmed placement when a delta carries that pixel', () => {
    const s = loaded(4, 3, 10);
    s.setPending(2, 2, 1);
    s.confirm(2, 2);
    s.applyDelta(delta(11, [10], [1]));
    expect(s.shownIndex(2, 2)).toBe(1);
    s.applyDelta(delta(12, [10], [3]));
    expect(s.shownIndex(2, 2)).toBe(3); // later truth wins once ours was seen
  });

  it('keeps a pending placement across a snapshot of the same size', () => {
    const s = loaded(4, 3, 10);
    s.setPending(0, 0, 2);
    s.loadSnapshot(15, 4, 3, new Uint8Array(12).fill(1));
    expect(s.shownIndex(0, 0)).toBe(2);
    expect(s.shownIndex(1, 0)).toBe(1);
  });
});
