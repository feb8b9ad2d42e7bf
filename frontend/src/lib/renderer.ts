/**
 * Draws a CanvasState into a <canvas> the size of the canvas (one element pixel per canvas pixel),
 * once per animation frame at most, only the rectangle that changed. Zoom and pan are CSS transforms
 * of that element, so a frame costs a putImageData of the changed pixels and nothing else.
 */
import type { CanvasState } from './canvasState';
import { toHex } from './palette';

export class CanvasRenderer {
  private readonly ctx: CanvasRenderingContext2D;
  private image: ImageData | null = null;
  private sizeVersion = -1;
  private frame = 0;
  private drawn = false;

  constructor(
    private readonly canvas: HTMLCanvasElement,
    private readonly state: CanvasState,
    private readonly onFirstDraw?: () => void,
  ) {
    const ctx = canvas.getContext('2d', { alpha: false });
    if (!ctx) throw new Error('this browser cannot draw on a 2D canvas');
    this.ctx = ctx;
  }

  /** Draw on the next animation frame. */
  schedule(): void {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.draw();
    });
  }

  draw(): void {
    const s = this.state;
    if (s.width === 0 || s.height === 0) return;
    if (s.sizeVersion !== this.sizeVersion || !this.image) {
      this.sizeVersion = s.sizeVersion;
      this.canvas.width = s.width;
      this.canvas.height = s.height;
      // ImageData over the state's own buffer: nothing is copied before putImageData.
      this.image = new ImageData(s.rgba, s.width, s.height);
      s.takeDirty();
      this.ctx.putImageData(this.image, 0, 0);
    } else {
      const d = s.takeDirty();
      if (!d) return;
      this.ctx.putImageData(this.image, 0, 0, d.x, d.y, d.w, d.h);
    }
    if (!this.drawn && s.hasSnapshot) {
      this.drawn = true;
      this.onFirstDraw?.();
    }
  }

  /** The colour drawn at (x, y) as `#rrggbb`, read back from the element (tests, debugging). */
  colorAt(x: number, y: number): string | null {
    if (x < 0 || y < 0 || x >= this.canvas.width || y >= this.canvas.height) return null;
    const d = this.ctx.getImageData(x, y, 1, 1).data;
    return toHex([d[0], d[1], d[2]]);
  }

  destroy(): void {
    if (this.frame) cancelAnimationFrame(this.frame);
    this.frame = 0;
  }
}
