/**
 * Pan and zoom math, pure.
 *
 * A view is the canvas point at the centre of the viewport (`cx`, `cy`, continuous canvas
 * coordinates: pixel (x, y) covers [x, x+1) x [y, y+1)) and `zoom`, screen px per canvas px.
 * The canvas element is drawn at `translate(tx, ty) scale(zoom)` with its origin top-left.
 */

export interface View {
  cx: number;
  cy: number;
  zoom: number;
}

export interface Size {
  width: number;
  height: number;
}

export interface Point {
  x: number;
  y: number;
}

export const MIN_ZOOM = 0.1;
export const MAX_ZOOM = 80;
/** From this zoom on the grid overlay is drawn. */
export const GRID_ZOOM = 12;
/** Zoom a click at a lower zoom takes the player to, so the chosen pixel can be seen. */
export const SELECT_ZOOM = 16;

export function clampZoom(zoom: number): number {
  if (!Number.isFinite(zoom)) return 1;
  return Math.min(MAX_ZOOM, Math.max(MIN_ZOOM, zoom));
}

/** Keep the zoom in range and the centre on the canvas. */
export function clampView(view: View, canvas: Size): View {
  const zoom = clampZoom(view.zoom);
  const cx = Number.isFinite(view.cx) ? Math.min(canvas.width, Math.max(0, view.cx)) : canvas.width / 2;
  const cy = Number.isFinite(view.cy) ? Math.min(canvas.height, Math.max(0, view.cy)) : canvas.height / 2;
  return { cx, cy, zoom };
}

/** Translation (screen px) of the canvas's top-left corner, rounded to device pixels. */
export function transform(view: View, viewport: Size, dpr = 1): { tx: number; ty: number; scale: number } {
  const snap = (v: number) => Math.round(v * dpr) / dpr;
  return {
    tx: snap(viewport.width / 2 - view.cx * view.zoom),
    ty: snap(viewport.height / 2 - view.cy * view.zoom),
    scale: view.zoom,
  };
}

/** The continuous canvas point under a viewport point. */
export function screenToCanvas(view: View, viewport: Size, sx: number, sy: number): Point {
  return {
    x: view.cx + (sx - viewport.width / 2) / view.zoom,
    y: view.cy + (sy - viewport.height / 2) / view.zoom,
  };
}

/** The pixel under a viewport point (may be outside the canvas). */
export function pixelAt(view: View, viewport: Size, sx: number, sy: number): Point {
  const p = screenToCanvas(view, viewport, sx, sy);
  return { x: Math.floor(p.x), y: Math.floor(p.y) };
}

/** Where a canvas point is in the viewport. */
export function canvasToScreen(view: View, viewport: Size, x: number, y: number): Point {
  return {
    x: viewport.width / 2 + (x - view.cx) * view.zoom,
    y: viewport.height / 2 + (y - view.cy) * view.zoom,
  };
}

/** Move the view by a drag of (dx, dy) screen px: the canvas follows the pointer. */
export function pan(view: View, dx: number, dy: number): View {
  return { cx: view.cx - dx / view.zoom, cy: view.cy - dy / view.zoom, zoom: view.zoom };
}

/** Change the zoom keeping the canvas point under viewport point (sx, sy) where it is. */
export function zoomAround(view: View, viewport: Size, sx: number, sy: number, zoom: number): View {
  const z = clampZoom(zoom);
  const p = screenToCanvas(view, viewport, sx, sy);
  return {
    cx: p.x - (sx - viewport.width / 2) / z,
    cy: p.y - (sy - viewport.height / 2) / z,
    zoom: z,
  };
}

/** Zoom factor for a wheel event: smooth for trackpads, one notch of a mouse wheel = about 1.2x. */
export function wheelFactor(deltaY: number, deltaMode: number, ctrlKey: boolean): number {
  const px = deltaMode === 1 ? deltaY * 16 : deltaMode === 2 ? deltaY * 400 : deltaY;
  // ctrl+wheel is how browsers report a trackpad pinch: small deltas, so a stronger response.
  const k = ctrlKey ? 0.01 : 0.0018;
  return Math.exp(-Math.max(-300, Math.min(300, px)) * k);
}

/** Next zoom for the +/- buttons and keys: doubling steps. */
export function zoomStep(zoom: number, direction: 1 | -1): number {
  return clampZoom(direction > 0 ? zoom * 2 : zoom / 2);
}

export interface Insets {
  top: number;
  right: number;
  bottom: number;
  left: number;
}

export const NO_INSETS: Insets = { top: 0, right: 0, bottom: 0, left: 0 };

/** Space kept around the canvas at "fit": less on a phone, where every pixel of width counts. */
export function fitMargin(viewport: Size): number {
  return Math.min(viewport.width, viewport.height) < 640 ? 12 : 24;
}

/**
 * The whole canvas in what the `insets` (screen px covered by bars and panels) leave visible of the
 * viewport, with a margin, centred there. Insets that leave too little room (less than a quarter of
 * the viewport either way) are ignored: the canvas then fits the viewport, partly covered.
 */
export function fitView(canvas: Size, viewport: Size, margin = 24, insets: Insets = NO_INSETS): View {
  let { top, right, bottom, left } = insets;
  const w = viewport.width - left - right;
  const h = viewport.height - top - bottom;
  if (w < viewport.width / 4 || h < viewport.height / 4) top = right = bottom = left = 0;
  const zw = (viewport.width - left - right - 2 * margin) / Math.max(1, canvas.width);
  const zh = (viewport.height - top - bottom - 2 * margin) / Math.max(1, canvas.height);
  const zoom = clampZoom(Math.max(MIN_ZOOM, Math.min(zw, zh)));
  // The canvas's centre goes to the centre of the visible part, not of the viewport.
  return {
    cx: canvas.width / 2 - (left - right) / 2 / zoom,
    cy: canvas.height / 2 - (top - bottom) / 2 / zoom,
    zoom,
  };
}

/** Whether two views show the same thing (to well under a screen pixel). */
export function sameView(a: View, b: View): boolean {
  const near = (p: number, q: number) => Math.abs(p - q) <= 1e-6 * Math.max(1, Math.abs(p), Math.abs(q));
  return near(a.zoom, b.zoom) && near(a.cx, b.cx) && near(a.cy, b.cy);
}

/**
 * Pan as little as needed so pixel (x, y) is inside the viewport, `margin` screen px from its edges,
 * and out from under the `insets` (screen px covered by bars and panels).
 */
export function ensureVisible(
  view: View,
  viewport: Size,
  x: number,
  y: number,
  margin = 48,
  insets: Insets = NO_INSETS,
): View {
  const z = view.zoom;
  const left = insets.left;
  const top = insets.top;
  const right = viewport.width - insets.right;
  const bottom = viewport.height - insets.bottom;
  if (right - left < z || bottom - top < z) return view; // no room to show it anyway
  const mx = Math.min(margin, (right - left - z) / 2);
  const my = Math.min(margin, (bottom - top - z) / 2);
  const tl = canvasToScreen(view, viewport, x, y);
  let dx = 0;
  let dy = 0;
  if (tl.x < left + mx) dx = left + mx - tl.x;
  else if (tl.x + z > right - mx) dx = right - mx - (tl.x + z);
  if (tl.y < top + my) dy = top + my - tl.y;
  else if (tl.y + z > bottom - my) dy = bottom - my - (tl.y + z);
  return dx === 0 && dy === 0 ? view : pan(view, dx, dy);
}

/** The view a URL asks for (`?x=&y=&zoom=`); absent or bad values are left out. */
export function parseViewParams(search: string): Partial<View> {
  const q = new URLSearchParams(search);
  const out: Partial<View> = {};
  const int = (name: string) => {
    const raw = q.get(name);
    if (raw === null || raw.trim() === '') return null;
    const v = Number(raw);
    return Number.isFinite(v) ? v : null;
  };
  const x = int('x');
  const y = int('y');
  const zoom = int('zoom');
  if (x !== null) out.cx = Math.floor(x) + 0.5;
  if (y !== null) out.cy = Math.floor(y) + 0.5;
  if (zoom !== null && zoom > 0) out.zoom = clampZoom(zoom);
  return out;
}

/** `x`, `y` (the pixel at the centre) and `zoom` for the URL. */
export function viewParams(view: View): { x: number; y: number; zoom: number } {
  return {
    x: Math.floor(view.cx),
    y: Math.floor(view.cy),
    zoom: Math.round(view.zoom * 100) / 100,
  };
}

/** The URL search string for a view, keeping other parameters of `search`. */
export function withViewParams(search: string, view: View): string {
  const q = new URLSearchParams(search);
  const p = viewParams(view);
  q.set('x', String(p.x));
  q.set('y', String(p.y));
  q.set('zoom', String(p.zoom));
  return '?' + q.toString();
}
