/**
 * The canvas as this client knows it: pure state, no DOM, no socket.
 *
 * `indices` holds the server's truth (one palette index per pixel). `rgba` is what is shown: the
 * truth coloured through the palette, with the player's own not-yet-seen placements (the overlay)
 * on top. `pixels` is a Uint32Array view of `rgba` so one pixel is one store.
 */
import { paletteTable } from './palette';
import { crc32, type Delta } from './protocol';

export type DeltaResult =
  /** seq was the next one: applied. */
  | 'applied'
  /** seq <= the canvas's: ignored (already in the snapshot). */
  | 'stale'
  /** seq skipped one or more deltas: applied anyway (fresher than nothing), the caller resyncs. */
  | 'gap'
  /** pixel indices past the canvas (sizes disagree): applied in range, the caller resyncs. */
  | 'corrupt'
  /** no snapshot for this canvas yet (new connection or a size change): dropped. */
  | 'no-snapshot';

export interface Rect {
  x: number;
  y: number;
  w: number;
  h: number;
}

interface OverlayPixel {
  c: number;
  /** true until the server answered `placed`; a confirmed one goes when a delta touches it. */
  pending: boolean;
}

export class CanvasState {
  width = 0;
  height = 0;
  /** seq of the latest snapshot or delta applied; -1 before the first snapshot. */
  seq = -1;
  /** false until a snapshot for the current connection and size has been loaded. */
  hasSnapshot = false;
  palette: string[] = [];
  indices = new Uint8Array(0);
  rgba = new Uint8ClampedArray(0);
  pixels = new Uint32Array(0);
  /** Bumped on every change of size (the renderer reallocates). */
  sizeVersion = 0;
  private table = paletteTable([]);
  private overlay = new Map<number, OverlayPixel>();
  private dirty: Rect | null = null;

  /** Set the palette; repaints everything if it changed. Returns whether it changed. */
  setPalette(palette: readonly string[]): boolean {
    if (palette.length === this.palette.length && palette.every((c, i) => c === this.palette[i])) {
      return false;
    }
    this.palette = [...palette];
    this.table = paletteTable(palette);
    this.repaintAll();
    return true;
  }

  /** Drop deltas until the next snapshot (a new connection, or a `hello` with another size). */
  expectSnapshot(): void {
    this.hasSnapshot = false;
  }

  /** Replace the canvas with a snapshot (already inflated). */
  loadSnapshot(seq: number, width: number, height: number, indices: Uint8Array): void {
    if (indices.length !== width * height) {
      throw new RangeError(`snapshot ${width}x${height} needs ${width * height} bytes, got ${indices.length}`);
    }
    if (width !== this.width || height !== this.height) {
      this.width = width;
      this.height = height;
      this.indices = new Uint8Array(width * height);
      this.rgba = new Uint8ClampedArray(width * height * 4);
      this.pixels = new Uint32Array(this.rgba.buffer);
      this.overlay.clear();
      this.sizeVersion++;
    }
    this.indices.set(indices);
    this.seq = seq;
    this.hasSnapshot = true;
    this.repaintAll();
  }

  /** Apply a delta per SPEC.md: ignore old seq, report gaps. */
  applyDelta(delta: Delta): DeltaResult {
    if (!this.hasSnapshot) return 'no-snapshot';
    if (delta.seq <= this.seq) return 'stale';
    const gap = delta.seq !== this.seq + 1;
    this.seq = delta.seq;
    const { pixels: where, colors } = delta;
    const n = where.length;
    const size = this.width * this.height;
    const w = this.width;
    const indices = this.indices;
    const out = this.pixels;
    const table = this.table;
    const overlay = this.overlay;
    let corrupt = false;
    let minI = size;
    let maxI = -1;
    let minX = w;
    let maxX = -1;
    for (let k = 0; k < n; k++) {
      const i = where[k];
      if (i >= size) {
        corrupt = true;
        continue;
      }
      const c = colors[k];
      indices[i] = c;
      if (overlay.size !== 0 && overlay.has(i)) {
        const o = overlay.get(i)!;
        if (o.pending) continue; // our own placement in flight stays shown
        overlay.delete(i);
      }
      out[i] = table[c];
      if (i < minI) minI = i;
      if (i > maxI) maxI = i;
      const x = i % w;
      if (x < minX) minX = x;
      if (x > maxX) maxX = x;
    }
    if (maxI >= 0) {
      const y0 = (minI / w) | 0;
      const y1 = (maxI / w) | 0;
      this.markDirty({ x: minX, y: y0, w: maxX - minX + 1, h: y1 - y0 + 1 });
    }
    if (corrupt) return 'corrupt';
    return gap ? 'gap' : 'applied';
  }

  /** CRC-32 of the server's truth (the palette indices, row-major), as `{"t":"sum"}` carries it. */
  checksum(): number {
    return crc32(this.indices);
  }

  inBounds(x: number, y: number): boolean {
    return Number.isInteger(x) && Number.isInteger(y) && x >= 0 && y >= 0 && x < this.width && y < this.height;
  }

  /** The palette index shown at (x, y), the overlay included; -1 outside the canvas. */
  shownIndex(x: number, y: number): number {
    if (!this.inBounds(x, y)) return -1;
    const i = y * this.width + x;
    return this.overlay.get(i)?.c ?? this.indices[i];
  }

  /** The palette index the server last told at (x, y); -1 outside the canvas. */
  serverIndex(x: number, y: number): number {
    return this.inBounds(x, y) ? this.indices[y * this.width + x] : -1;
  }

  /** Show the player's own placement at once, before the server has answered. */
  setPending(x: number, y: number, c: number): void {
    if (!this.inBounds(x, y)) return;
    const i = y * this.width + x;
    this.overlay.set(i, { c, pending: true });
    this.paint(i);
  }

  /** The server stored it: keep showing it until a delta carries that pixel. */
  confirm(x: number, y: number): void {
    if (!this.inBounds(x, y)) return;
    const o = this.overlay.get(y * this.width + x);
    if (o) o.pending = false;
  }

  /** Roll back (refused, or shown long enough): show the server's truth again. */
  clearOverlay(x: number, y: number): void {
    if (!this.inBounds(x, y)) return;
    const i = y * this.width + x;
    if (this.overlay.delete(i)) this.paint(i);
  }

  /** The rectangle changed since the last call, or null. */
  takeDirty(): Rect | null {
    const d = this.dirty;
    this.dirty = null;
    return d;
  }

  private paint(i: number): void {
    this.pixels[i] = this.table[this.overlay.get(i)?.c ?? this.indices[i]];
    const x = i % this.width;
    const y = (i / this.width) | 0;
    this.markDirty({ x, y, w: 1, h: 1 });
  }

  private repaintAll(): void {
    const { indices, pixels, table } = this;
    for (let i = 0; i < indices.length; i++) pixels[i] = table[indices[i]];
    for (const [i, o] of this.overlay) pixels[i] = table[o.c];
    this.dirty = null;
    if (this.width > 0 && this.height > 0) this.markDirty({ x: 0, y: 0, w: this.width, h: this.height });
  }

  private markDirty(r: Rect): void {
    const d = this.dirty;
    if (!d) {
      this.dirty = r;
      return;
    }
    const x0 = Math.min(d.x, r.x);
    const y0 = Math.min(d.y, r.y);
    const x1 = Math.max(d.x + d.w, r.x + r.w);
    const y1 = Math.max(d.y + d.h, r.y + r.h);
    this.dirty = { x: x0, y: y0, w: x1 - x0, h: y1 - y0 };
  }
}
