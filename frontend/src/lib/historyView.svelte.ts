/**
 * The history viewer's state: the frame list, the frame shown, playback. A lazy chunk, loaded when
 * the player opens the history. Frames are images the browser caches (a year, immutable); the
 * frame shown is only replaced once the next one has decoded, so scrubbing never flashes.
 */
import { frameUrl, historyListUrl, nextFrame, parseFrames, playFrom, typicalInterval, SPEEDS } from './history';

export type HistoryStatus = 'loading' | 'ready' | 'empty' | 'error';

export class HistoryView {
  status = $state<HistoryStatus>('loading');
  error = $state('');
  frames = $state.raw<number[]>([]);
  /** The slider's position. */
  index = $state(0);
  /** The frame drawn (it trails `index` while the next one loads). */
  shown = $state.raw<{ at: number; image: HTMLImageElement } | null>(null);
  playing = $state(false);
  fps = $state<number>(SPEEDS[1]);
  interval = $derived(typicalInterval(this.frames));
  private loading = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private readonly cache = new Map<number, HTMLImageElement>();
  private controller = new AbortController();

  /** Fetch the frame list and show the latest frame. */
  async open(): Promise<void> {
    this.status = 'loading';
    this.error = '';
    try {
      const res = await fetch(historyListUrl(), {
        signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(15_000)]),
        headers: { accept: 'application/json' },
      });
      let body: unknown = null;
      try {
        body = await res.json();
      } catch {
        // not JSON
      }
      if (!res.ok) {
        const why = (body as { error?: string } | null)?.error;
        throw new Error(res.status === 503 ? 'The history is unavailable right now. Try again in a moment.' : (why ?? `HTTP ${res.status}`));
      }
      this.frames = parseFrames(body);
    } catch (err) {
      if (this.controller.signal.aborted) return;
      this.status = 'error';
      this.error = err instanceof Error ? err.message : String(err);
      return;
    }
    if (this.frames.length === 0) {
      this.status = 'empty';
      return;
    }
    this.status = 'ready';
    this.seek(this.frames.length - 1);
  }

  close(): void {
    this.pause();
    this.controller.abort();
    this.controller = new AbortController();
    this.cache.clear();
  }

  /** Move the slider to frame `index`; its image is shown once decoded. */
  seek(index: number): Promise<void> {
    const i = Math.max(0, Math.min(this.frames.length - 1, Math.round(index)));
    this.index = i;
    return this.show(i);
  }

  play(): void {
    if (this.status !== 'ready' || this.frames.length < 2) return;
    this.playing = true;
    const from = playFrom(this.index, this.frames.length);
    void this.seek(from).then(() => this.tick());
  }

  pause(): void {
    this.playing = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
  }

  toggle(): void {
    if (this.playing) this.pause();
    else this.play();
  }

  private tick(): void {
    if (!this.playing) return;
    const started = performance.now();
    this.timer = setTimeout(async () => {
      this.timer = null;
      if (!this.playing) return;
      const next = nextFrame(this.index, this.frames.length);
      if (next === null) {
        this.pause();
        return;
      }
      await this.seek(next); // waits for the image: a slow network slows playback, never skips
      this.preload(next + 1, 3);
      this.tick();
    }, Math.max(0, 1000 / this.fps - (performance.now() - started)));
  }

  private async show(i: number): Promise<void> {
    const at = this.frames[i];
    if (at === undefined) return;
    const ticket = ++this.loading;
    try {
      const image = await this.image(at);
      if (ticket === this.loading) this.shown = { at, image };
    } catch {
      if (ticket === this.loading) this.error = 'A frame could not be loaded.';
    }
  }

  private image(at: number): Promise<HTMLImageElement> {
    let image = this.cache.get(at);
    if (!image) {
      image = new Image();
      image.decoding = 'async';
      image.src = frameUrl(at);
      this.cache.set(at, image);
      if (this.cache.size > 64) this.cache.delete(this.cache.keys().next().value!);
    }
    const img = image;
    return img.decode().then(
      () => img,
      (err) => {
        this.cache.delete(at);
        throw err;
      },
    );
  }

  private preload(from: number, count: number): void {
    for (let i = from; i < Math.min(this.frames.length, from + count); i++) void this.image(this.frames[i]).catch(() => undefined);
  }
}
