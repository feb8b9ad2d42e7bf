/**
 * The player's templates: loaded (URL or uploaded PNG), matched to the live palette, compared with
 * the canvas as it changes, and kept in this browser. A lazy chunk: only players who use templates
 * (or open a link with one) load it.
 */
import type { KeyValueStore } from './auth';
import type { PlaceClient } from './client.svelte';
import { paletteTable } from './palette';
import {
  CLEAR,
  MAX_SIDE,
  diffTemplate,
  loadErrorText,
  matchPalette,
  nameOf,
  newId,
  nextWrong,
  parseSaved,
  type Placed,
  type TemplateSpec,
  type WrongPixel,
} from './template';

export const TEMPLATES_KEY = 'place.templates';
/** At most this often the templates are compared with a changing canvas. */
const DIFF_EVERY_MS = 200;

export type TemplateStatus = 'loading' | 'ready' | 'error';

export class TemplateItem {
  spec = $state<TemplateSpec>() as TemplateSpec;
  status = $state<TemplateStatus>('loading');
  error = $state('');
  wrong = $state(0);
  total = $state(0);
  /** Bumped when the matched image changes (the layer redraws it). */
  imageVersion = $state(0);
  /** Bumped when the wrong-pixel mask changes. */
  maskVersion = $state(0);
  width = $state(0);
  height = $state(0);
  source: Uint8ClampedArray | null = null;
  indices: Uint8Array | null = null;
  /** The palette-matched picture, for drawing. */
  image: ImageData | null = null;
  /** The wrong pixels in the colour they should be, the rest transparent (it blinks). */
  mask: ImageData | null = null;
  /** Palette index -> RGBA word, for the mask. */
  table: Uint32Array | null = null;

  constructor(spec: TemplateSpec) {
    this.spec = spec;
  }

  get placed(): Placed | null {
    if (!this.indices) return null;
    return { indices: this.indices, width: this.width, height: this.height, x: this.spec.x, y: this.spec.y };
  }
}

class LoadError extends Error {}

/** Fetch and decode an image to RGBA. Throws LoadError with words for the player. */
export async function loadImage(src: string): Promise<{ data: Uint8ClampedArray; width: number; height: number }> {
  let res: Response;
  try {
    res = await fetch(src, { mode: 'cors', credentials: 'omit' });
  } catch {
    throw new LoadError(loadErrorText(src, 'network'));
  }
  if (!res.ok) throw new LoadError(loadErrorText(src, 'http', `HTTP ${res.status}`));
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(await res.blob(), { premultiplyAlpha: 'none', colorSpaceConversion: 'none' });
  } catch {
    throw new LoadError(loadErrorText(src, 'decode'));
  }
  const { width, height } = bitmap;
  if (width > MAX_SIDE || height > MAX_SIDE) {
    bitmap.close();
    throw new LoadError(loadErrorText(src, 'size', `${width} × ${height}`));
  }
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (!ctx) throw new LoadError(loadErrorText(src, 'decode'));
  ctx.drawImage(bitmap, 0, 0);
  bitmap.close();
  return { data: ctx.getImageData(0, 0, width, height).data, width, height };
}

export class TemplateStore {
  items = $state<TemplateItem[]>([]);
  /** Something the player should know about keeping templates (storage full). */
  notice = $state('');
  private paletteKey = '';
  private timer: ReturnType<typeof setTimeout> | null = null;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly client: PlaceClient,
    private readonly storage: KeyValueStore | null,
  ) {
    let saved: TemplateSpec[] = [];
    try {
      saved = parseSaved(storage?.getItem(TEMPLATES_KEY) ?? null);
    } catch {
      // storage blocked
    }
    this.items = saved.map((spec) => new TemplateItem(spec));
    for (const item of this.items) void this.load(item);
    this.unsubscribe = client.onCanvasChange(() => this.schedule());
  }

  destroy(): void {
    this.unsubscribe?.();
    if (this.timer !== null) clearTimeout(this.timer);
  }

  /** Add a template (or, for a source already in the list, move and show it). */
  add(src: string, x: number, y: number, name = nameOf(src)): TemplateItem {
    const existing = this.items.find((t) => t.spec.src === src);
    if (existing) {
      this.update(existing, { x, y, visible: true });
      return existing;
    }
    const item = new TemplateItem({ id: newId(), src, name, x, y, opacity: 0.6, visible: true });
    this.items = [...this.items, item];
    this.save();
    void this.load(item);
    return item;
  }

  remove(item: TemplateItem): void {
    this.items = this.items.filter((t) => t !== item);
    this.save();
  }

  update(item: TemplateItem, patch: Partial<Omit<TemplateSpec, 'id' | 'src'>>): void {
    const moved = (patch.x !== undefined && patch.x !== item.spec.x) || (patch.y !== undefined && patch.y !== item.spec.y);
    item.spec = { ...item.spec, ...patch };
    this.save();
    if (moved) this.diff(item);
  }

  /** Wrong pixels of the visible templates. */
  get wrong(): number {
    return this.items.reduce((n, t) => n + (t.spec.visible && t.status === 'ready' ? t.wrong : 0), 0);
  }

  get total(): number {
    return this.items.reduce((n, t) => n + (t.spec.visible && t.status === 'ready' ? t.total : 0), 0);
  }

  /**
   * The next wrong pixel after `from`: in the template under `from` first, then in the others in
   * list order (only `only` when given); null when every visible template is done.
   */
  next(from: { x: number; y: number } | null, only?: TemplateItem): (WrongPixel & { item: TemplateItem }) | null {
    const canvas = this.canvas();
    if (!canvas) return null;
    const ready = (only ? [only] : this.items).filter((t) => t.status === 'ready' && (only || t.spec.visible));
    const under = from ? ready.findIndex((t) => contains(t, from)) : -1;
    const order = under < 0 ? ready : [...ready.slice(under), ...ready.slice(0, under)];
    const shown = this.shownAt();
    for (const [k, item] of order.entries()) {
      const placed = item.placed;
      if (!placed) continue;
      // From `from` only in its own template (and there, after it); the others from their start.
      const found = nextWrong(placed, canvas, k === 0 && under >= 0 ? from : null, shown);
      if (found) return { ...found, item };
    }
    return null;
  }

  private canvas(): { indices: Uint8Array; width: number; height: number } | null {
    const s = this.client.state;
    if (!s.hasSnapshot || s.width === 0) return null;
    return { indices: s.indices, width: s.width, height: s.height };
  }

  /** The colour the player sees (their own placement in flight included). */
  private shownAt(): (i: number) => number {
    const s = this.client.state;
    return (i) => s.shownIndex(i % s.width, Math.floor(i / s.width));
  }

  /** Load a template again (after its server failed, or allowed CORS since). */
  retry(item: TemplateItem): void {
    void this.load(item);
  }

  private async load(item: TemplateItem): Promise<void> {
    item.status = 'loading';
    item.error = '';
    try {
      const { data, width, height } = await loadImage(item.spec.src);
      item.source = data;
      item.width = width;
      item.height = height;
      this.match(item);
      item.status = 'ready';
    } catch (err) {
      item.status = 'error';
      item.error = err instanceof LoadError ? err.message : `Could not load the image: ${String(err)}`;
    }
  }

  /** Match the image's colours to the live palette. */
  private match(item: TemplateItem): void {
    const palette = this.client.palette;
    if (!item.source || palette.length === 0) return;
    item.indices = matchPalette(item.source, palette);
    const table = paletteTable(palette);
    item.table = table;
    const image = new ImageData(item.width, item.height);
    const words = new Uint32Array(image.data.buffer);
    const idx = item.indices;
    for (let i = 0; i < idx.length; i++) words[i] = idx[i] === CLEAR ? 0 : table[idx[i]];
    item.image = image;
    item.mask = new ImageData(item.width, item.height);
    item.imageVersion++;
    this.diff(item);
  }

  private diff(item: TemplateItem): void {
    const canvas = this.canvas();
    const placed = item.placed;
    if (!canvas || !placed || !item.mask || !item.table) return;
    const mask = new Uint32Array(item.mask.data.buffer);
    const result = diffTemplate(placed, canvas, this.shownAt(), mask, item.table);
    item.wrong = result.wrong;
    item.total = result.total;
    item.maskVersion++;
  }

  /** Compare again soon (the canvas changed); at most every DIFF_EVERY_MS. */
  schedule(): void {
    if (this.timer !== null) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.refresh();
    }, DIFF_EVERY_MS);
  }

  /** Re-match on a palette change, then compare every template with the canvas. */
  refresh(): void {
    const key = this.client.palette.join(',');
    const rematch = key !== this.paletteKey;
    this.paletteKey = key;
    for (const item of this.items) {
      if (!item.source) continue;
      if (rematch || !item.indices) this.match(item);
      else this.diff(item);
    }
  }

  private save(): void {
    const specs = this.items.map((t) => ({ ...t.spec }));
    try {
      this.storage?.setItem(TEMPLATES_KEY, JSON.stringify(specs));
      this.notice = '';
    } catch {
      // Full (a large upload): keep the others, so at least they survive a reload.
      try {
        this.storage?.setItem(TEMPLATES_KEY, JSON.stringify(specs.filter((s) => !s.src.startsWith('data:'))));
        this.notice = 'This browser has no room to keep the uploaded image: it will be gone after a reload.';
      } catch {
        this.notice = 'This browser does not let the page keep templates: they will be gone after a reload.';
      }
    }
  }
}

function contains(item: TemplateItem, p: { x: number; y: number }): boolean {
  const { x, y } = item.spec;
  return p.x >= x && p.y >= y && p.x < x + item.width && p.y < y + item.height;
}
