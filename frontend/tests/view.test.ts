import { describe, expect, it } from 'vitest';
import {
  MAX_ZOOM,
  MIN_ZOOM,
  canvasToScreen,
  clampView,
  ensureVisible,
  fitView,
  pan,
  parseViewParams,
  pixelAt,
  screenToCanvas,
  transform,
  viewParams,
  wheelFactor,
  withViewParams,
  zoomAround,
  zoomStep,
} from '../src/lib/view';

const VP = { width: 800, height: 600 };

describe('view math', () => {
  it('puts the view centre in the middle of the viewport', () => {
    const v = { cx: 100, cy: 50, zoom: 4 };
    expect(transform(v, VP)).toEqual({ tx: 400 - 400, ty: 300 - 200, scale: 4 });
    expect(screenToCanvas(v, VP, 400, 300)).toEqual({ x: 100, y: 50 });
    expect(canvasToScreen(v, VP, 101, 50)).toEqual({ x: 404, y: 300 });
    expect(pixelAt(v, VP, 403.9, 299)).toEqual({ x: 100, y: 49 });
  });

  it('snaps the translation to device pixels', () => {
    const v = { cx: 10.3, cy: 10.3, zoom: 1 };
    expect(transform(v, VP, 1).tx).toBe(390);
    expect(transform(v, VP, 2).tx).toBe(389.5);
  });

  it('round-trips screen and canvas coordinates', () => {
    const v = { cx: 333.3, cy: 12.7, zoom: 7.5 };
    const p = screenToCanvas(v, VP, 123, 456);
    const back = canvasToScreen(v, VP, p.x, p.y);
    expect(back.x).toBeCloseTo(123, 9);
    expect(back.y).toBeCloseTo(456, 9);
  });

  it('pans with the pointer', () => {
    expect(pan({ cx: 100, cy: 100, zoom: 2 }, 20, -10)).toEqual({ cx: 90, cy: 105, zoom: 2 });
  });

  it('zooms around the pointer: the point under it stays put', () => {
    const v = { cx: 500, cy: 500, zoom: 1 };
    const before = screenToCanvas(v, VP, 100, 50);
    const z = zoomAround(v, VP, 100, 50, 8);
    expect(z.zoom).toBe(8);
    const after = screenToCanvas(z, VP, 100, 50);
    expect(after.x).toBeCloseTo(before.x, 9);
    expect(after.y).toBeCloseTo(before.y, 9);
  });

  it('clamps zoom and keeps the centre on the canvas', () => {
    expect(zoomAround({ cx: 0, cy: 0, zoom: 1 }, VP, 0, 0, 1e6).zoom).toBe(MAX_ZOOM);
    expect(clampView({ cx: -5, cy: 2000, zoom: 0.0001 }, { width: 1000, height: 800 })).toEqual({
      cx: 0,
      cy: 800,
      zoom: MIN_ZOOM,
    });
    expect(clampView({ cx: NaN, cy: 1, zoom: NaN }, { width: 10, height: 10 })).toEqual({ cx: 5, cy: 1, zoom: 1 });
  });

  it('fits the canvas in the viewport', () => {
    const v = fitView({ width: 1000, height: 1000 }, VP, 0);
    expect(v).toEqual({ cx: 500, cy: 500, zoom: 0.6 });
    const phone = fitView({ width: 1000, height: 1000 }, { width: 375, height: 667 }, 24);
    expect(phone.zoom).toBeCloseTo(0.327, 3);
  });

  it('steps and wheels', () => {
    expect(zoomStep(4, 1)).toBe(8);
    expect(zoomStep(4, -1)).toBe(2);
    expect(wheelFactor(-100, 0, false)).toBeGreaterThan(1);
    expect(wheelFactor(100, 0, false)).toBeLessThan(1);
    expect(wheelFactor(100, 0, false) * wheelFactor(-100, 0, false)).toBeCloseTo(1, 9);
    expect(wheelFactor(3, 1, false)).toBeCloseTo(wheelFactor(48, 0, false), 9); // lines
  });

  it('pans just enough to bring a pixel into view', () => {
    const v = { cx: 50, cy: 50, zoom: 10 };
    expect(ensureVisible(v, VP, 50, 50)).toBe(v);
    const moved = ensureVisible(v, VP, 100, 50, 40);
    const p = canvasToScreen(moved, VP, 100, 50);
    expect(p.x + 10).toBeCloseTo(VP.width - 40, 9);
  });

  it('reads and writes ?x=&y=&zoom=', () => {
    expect(parseViewParams('?x=12&y=34&zoom=8')).toEqual({ cx: 12.5, cy: 34.5, zoom: 8 });
    expect(parseViewParams('?x=12')).toEqual({ cx: 12.5 });
    expect(parseViewParams('?x=&y=abc&zoom=-3')).toEqual({});
    expect(parseViewParams('?zoom=100000').zoom).toBe(MAX_ZOOM);
    expect(viewParams({ cx: 12.99, cy: 0.2, zoom: 3.14159 })).toEqual({ x: 12, y: 0, zoom: 3.14 });
    expect(withViewParams('?foo=1&x=3', { cx: 7.5, cy: 8.5, zoom: 2 })).toBe('?foo=1&x=7&y=8&zoom=2');
    // a link shows the same view
    const v = { cx: 120.5, cy: 88.5, zoom: 6 };
    expect(parseViewParams(withViewParams('', v))).toEqual(v);
  });
});

describe('ensureVisible with insets', () => {
  it('keeps the pixel out from under a bottom panel and a top bar', () => {
    const v = { cx: 50, cy: 50, zoom: 10 };
    const insets = { top: 60, right: 0, bottom: 300, left: 0 };
    // pixel (50, 70) is at y = 300 + 200 = 500: under the panel (600 - 300 = 300)
    const moved = ensureVisible(v, VP, 50, 70, 24, insets);
    const p = canvasToScreen(moved, VP, 50, 70);
    expect(p.y + 10).toBeCloseTo(600 - 300 - 24, 9);
    const up = ensureVisible(v, VP, 50, 20, 24, insets);
    expect(canvasToScreen(up, VP, 50, 20).y).toBeCloseTo(60 + 24, 9);
    // no room at all: leave the view alone
    const cramped = ensureVisible(v, VP, 50, 70, 24, { top: 300, right: 0, bottom: 295, left: 0 });
    expect(cramped).toBe(v);
  });
});
