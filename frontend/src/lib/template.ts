/**
 * Templates (overlays): an image a community wants on the canvas, drawn over it so players see
 * which pixels still differ. Pure: colour matching, the diff against the canvas, the next wrong
 * pixel, share links and what is kept per browser. No DOM.
 */
import { parseHex } from './palette';

/** A template pixel that is not part of the picture (transparent in the image). */
export const CLEAR = 255;
/** Image pixels with less alpha than this are transparent. */
export const ALPHA_CUT = 128;
/** The largest template side the page takes (a bigger image is refused, not scaled). */
export const MAX_SIDE = 4096;

export interface TemplateSpec {
  id: string;
  /** An image URL (http(s), same-origin path, or a data: URL of an uploaded PNG). */
  src: string;
  /** What the list shows: the file's name. */
  name: string;
  /** Canvas pixel of the image's top-left corner. */
  x: number;
  y: number;
  /** 0..1 */
  opacity: number;
  visible: boolean;
}

/**
 * The nearest palette colour for each pixel of an RGBA image, CLEAR where alpha < ALPHA_CUT.
 * Distance: "redmean" weighted RGB, close to how far apart colours look, and cheap. Each distinct
 * colour is matched once (images have few).
 */
export function matchPalette(rgba: Uint8ClampedArray | Uint8Array, palette: readonly string[]): Uint8Array {
  const n = rgba.length >> 2;
  const out = new Uint8Array(n);
  const pal = palette.slice(0, CLEAR).map((hex) => parseHex(hex) ?? [255, 0, 255]);
  const memo = new Map<number, number>();
  const words = new Uint32Array(rgba.buffer, rgba.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const a = rgba[i * 4 + 3];
    if (a < ALPHA_CUT || pal.length === 0) {
      out[i] = CLEAR;
      continue;
    }
    const key = words[i] | 0xff000000;
    let c = memo.get(key);
    if (c === undefined) {
      c = nearest(pal, rgba[i * 4], rgba[i * 4 + 1], rgba[i * 4 + 2]);
      memo.set(key, c);
    }
    out[i] = c;
  }
  return out;
}

function nearest(pal: readonly (readonly number[])[], r: number, g: number, b: number): number {
  let best = 0;
  let bestD = Infinity;
  for (let k = 0; k < pal.length; k++) {
    const [pr, pg, pb] = pal[k];
    const mean = (r + pr) / 2;
    const dr = r - pr;
    const dg = g - pg;
    const db = b - pb;
    const d = (2 + mean / 256) * dr * dr + 4 * dg * dg + (2 + (255 - mean) / 256) * db * db;
    if (d < bestD) {
      bestD = d;
      best = k;
      if (d === 0) break;
    }
  }
  return best;
}

/** A palette-matched template placed on the canvas. */
export interface Placed {
  /** Palette indices, CLEAR for transparent, row-major `width * height`. */
  indices: Uint8Array;
  width: number;
  height: number;
  x: number;
  y: number;
}

export interface Canvas {
  indices: Uint8Array;
  width: number;
  height: number;
}

/** The part of the template that lies on the canvas, in template coordinates. */
function overlap(t: Placed, c: Canvas): { x0: number; y0: number; x1: number; y1: number } {
  return {
    x0: Math.max(0, -t.x),
    y0: Math.max(0, -t.y),
    x1: Math.min(t.width, c.width - t.x),
    y1: Math.min(t.height, c.height - t.y),
  };
}

export interface DiffResult {
  /** Template pixels on the canvas (not transparent). */
  total: number;
  /** Of those, the ones whose canvas colour differs. */
  wrong: number;
}

/**
 * Count the template's pixels that differ from the canvas. `shown(i)` (optional) gives the colour
 * the player sees at canvas pixel i when it may differ from `c.indices` (their own placement
 * in flight); it is asked only where the truth differs from the template. `mask` (optional,
 * `width * height` words, ImageData order) gets, where wrong, `mark` (or, for a table, the
 * wanted colour's entry) and 0 elsewhere.
 */
export function diffTemplate(
  t: Placed,
  c: Canvas,
  shown?: (i: number) => number,
  mask?: Uint32Array,
  mark: number | Uint32Array = 0,
): DiffResult {
  const { x0, y0, x1, y1 } = overlap(t, c);
  let total = 0;
  let wrong = 0;
  if (mask) mask.fill(0);
  for (let ty = y0; ty < y1; ty++) {
    const trow = ty * t.width;
    const crow = (ty + t.y) * c.width + t.x;
    for (let tx = x0; tx < x1; tx++) {
      const want = t.indices[trow + tx];
      if (want === CLEAR) continue;
      total++;
      const ci = crow + tx;
      if (c.indices[ci] !== want && (!shown || shown(ci) !== want)) {
        wrong++;
        if (mask) mask[trow + tx] = typeof mark === 'number' ? mark : mark[want];
      }
    }
  }
  return { total, wrong };
}

export interface WrongPixel {
  x: number;
  y: number;
  /** The palette index the template wants there. */
  c: number;
}

/**
 * The next pixel (canvas coordinates, reading order) after `from` where the canvas differs from
 * the template, wrapping around; the first one when `from` is null or outside the template. Null
 * when none is wrong.
 */
export function nextWrong(
  t: Placed,
  c: Canvas,
  from: { x: number; y: number } | null,
  shown?: (i: number) => number,
): WrongPixel | null {
  const { x0, y0, x1, y1 } = overlap(t, c);
  if (x1 <= x0 || y1 <= y0) return null;
  const w = x1 - x0;
  const count = w * (y1 - y0);
  let start = 0;
  if (from) {
    const fx = from.x - t.x - x0;
    const fy = from.y - t.y - y0;
    if (fx >= 0 && fy >= 0 && fx < w && fy < y1 - y0) start = fy * w + fx + 1;
  }
  for (let k = 0; k < count; k++) {
    const p = (start + k) % count;
    const tx = x0 + (p % w);
    const ty = y0 + Math.floor(p / w);
    const want = t.indices[ty * t.width + tx];
    if (want === CLEAR) continue;
    const ci = (ty + t.y) * c.width + tx + t.x;
    if (c.indices[ci] !== want && (!shown || shown(ci) !== want)) return { x: tx + t.x, y: ty + t.y, c: want };
  }
  return null;
}

// ------------------------------------------------------------------ links and storage

/** `?template=URL&tx=&ty=` of a share link; null without a usable `template`. */
export function parseTemplateParams(search: string): { src: string; x: number; y: number } | null {
  const q = new URLSearchParams(search);
  const src = q.get('template')?.trim();
  if (!src || !isShareable(src)) return null;
  const int = (name: string) => {
    const v = Number(q.get(name) ?? 0);
    return Number.isInteger(v) ? v : 0;
  };
  return { src, x: int('tx'), y: int('ty') };
}

/** Only http(s) URLs (absolute or relative to the page) go in links: data: URLs are too long. */
export function isShareable(src: string): boolean {
  if (src.startsWith('data:') || src.startsWith('blob:')) return false;
  if (/^[a-z][a-z0-9+.-]*:/i.test(src)) return /^https?:/i.test(src);
  return true;
}

/** A link to the page that opens with this template, its position and a view centred on it. */
export function templateLink(pageHref: string, spec: Pick<TemplateSpec, 'src' | 'x' | 'y'>, size?: { width: number; height: number }): string {
  const url = new URL(pageHref);
  const q = url.searchParams;
  q.set('template', spec.src);
  q.set('tx', String(spec.x));
  q.set('ty', String(spec.y));
  if (size) {
    q.set('x', String(spec.x + Math.floor(size.width / 2)));
    q.set('y', String(spec.y + Math.floor(size.height / 2)));
  }
  url.search = q.toString();
  url.hash = '';
  return url.toString();
}

/** A short name for a template: the file name of its URL, or the uploaded file's. */
export function nameOf(src: string): string {
  if (src.startsWith('data:')) return 'uploaded image';
  try {
    const url = new URL(src, 'http://page.invalid/');
    const file = decodeURIComponent(url.pathname.split('/').filter(Boolean).pop() ?? '');
    return file || url.hostname || src;
  } catch {
    return src;
  }
}

/** The kept templates, as read back from storage: anything malformed is dropped. */
export function parseSaved(raw: string | null): TemplateSpec[] {
  if (!raw) return [];
  let data: unknown;
  try {
    data = JSON.parse(raw);
  } catch {
    return [];
  }
  if (!Array.isArray(data)) return [];
  const out: TemplateSpec[] = [];
  for (const d of data) {
    if (!d || typeof d !== 'object') continue;
    const o = d as Record<string, unknown>;
    if (typeof o.src !== 'string' || !o.src) continue;
    const num = (v: unknown, fallback: number) => (typeof v === 'number' && Number.isFinite(v) ? v : fallback);
    out.push({
      id: typeof o.id === 'string' && o.id ? o.id : newId(),
      src: o.src,
      name: typeof o.name === 'string' && o.name ? o.name : nameOf(o.src),
      x: Math.round(num(o.x, 0)),
      y: Math.round(num(o.y, 0)),
      opacity: Math.min(1, Math.max(0, num(o.opacity, 0.6))),
      visible: o.visible !== false,
    });
  }
  return out;
}

let counter = 0;
export function newId(): string {
  counter++;
  return `t${Date.now().toString(36)}${counter.toString(36)}`;
}

/** Why an image could not be loaded, in words for the player. */
export function loadErrorText(src: string, kind: 'network' | 'http' | 'decode' | 'size', detail = ''): string {
  const where = (() => {
    try {
      return new URL(src, 'http://page.invalid/').host;
    } catch {
      return '';
    }
  })();
  switch (kind) {
    case 'network':
      return (
        `Could not read the image${where ? ` from ${where}` : ''}. Its server may be down, or it does not ` +
        'allow other sites to read it (CORS: it must send Access-Control-Allow-Origin). ' +
        'Download the image and upload the file instead.'
      );
    case 'http':
      return `The image server answered ${detail}.`;
    case 'decode':
      return 'That is not an image this browser can read (use a PNG).';
    case 'size':
      return `The image is too large (${detail}); at most ${MAX_SIDE} × ${MAX_SIDE} pixels.`;
  }
}
