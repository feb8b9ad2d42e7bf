/**
 * Pointer and wheel input on the canvas viewport, turned into pan / zoom / tap / hover.
 * Mouse, pen and touch alike (Pointer Events); two touches pinch. Coordinates are viewport px.
 */
import { wheelFactor } from './view';

export interface GestureHandlers {
  pan(dx: number, dy: number): void;
  /** Zoom by `factor` around viewport point (sx, sy). */
  zoom(sx: number, sy: number, factor: number): void;
  /** A press and release without moving: select what is there. */
  tap(sx: number, sy: number, pointerType: string): void;
  /** The pointer moved over the viewport (null: it left). */
  hover(sx: number, sy: number, pointerType: string): void;
  leave(): void;
  /** A drag or pinch started / ended (to change the cursor, stop animations). */
  active?(on: boolean): void;
}

/** Movement (px) under which a press still counts as a tap. */
const TAP_SLOP = { mouse: 4, pen: 6, touch: 10 } as Record<string, number>;

export function attachGestures(el: HTMLElement, h: GestureHandlers): () => void {
  const pointers = new Map<number, { x: number; y: number }>();
  let start: { id: number; x: number; y: number; type: string } | null = null;
  let moved = false;
  let pinched = false;
  let pinch: { dist: number; mx: number; my: number } | null = null;
  let rect = el.getBoundingClientRect();

  const local = (e: { clientX: number; clientY: number }) => ({ x: e.clientX - rect.left, y: e.clientY - rect.top });

  const pinchState = () => {
    const [a, b] = [...pointers.values()];
    return { dist: Math.hypot(a.x - b.x, a.y - b.y), mx: (a.x + b.x) / 2, my: (a.y + b.y) / 2 };
  };

  const down = (e: PointerEvent) => {
    if (e.pointerType === 'mouse' && e.button !== 0) return;
    rect = el.getBoundingClientRect();
    const p = local(e);
    pointers.set(e.pointerId, p);
    try {
      el.setPointerCapture(e.pointerId);
    } catch {
      // synthetic events have no active pointer to capture
    }
    if (pointers.size === 1) {
      start = { id: e.pointerId, ...p, type: e.pointerType };
      moved = false;
      pinched = false;
      h.active?.(true);
    } else if (pointers.size === 2) {
      pinch = pinchState();
      pinched = true;
    }
  };

  const move = (e: PointerEvent) => {
    const p = local(e);
    if (!pointers.has(e.pointerId)) {
      if (e.pointerType !== 'touch') h.hover(p.x, p.y, e.pointerType);
      return;
    }
    const prev = pointers.get(e.pointerId)!;
    pointers.set(e.pointerId, p);
    if (pointers.size === 1) {
      if (!moved && start) {
        const slop = TAP_SLOP[start.type] ?? 6;
        if (Math.hypot(p.x - start.x, p.y - start.y) <= slop) return;
        moved = true;
        h.pan(p.x - start.x, p.y - start.y);
      } else {
        h.pan(p.x - prev.x, p.y - prev.y);
      }
      if (e.pointerType !== 'touch') h.hover(p.x, p.y, e.pointerType);
    } else if (pointers.size === 2 && pinch) {
      const now = pinchState();
      if (pinch.dist > 0 && now.dist > 0) h.zoom(pinch.mx, pinch.my, now.dist / pinch.dist);
      h.pan(now.mx - pinch.mx, now.my - pinch.my);
      pinch = now;
    }
  };

  const up = (e: PointerEvent) => {
    if (!pointers.has(e.pointerId)) return;
    pointers.delete(e.pointerId);
    if (pointers.size === 1) {
      // Pinch over, one finger stays: it continues as a drag from where it is.
      pinch = null;
      moved = true;
    }
    if (pointers.size === 0) {
      if (e.type === 'pointerup' && start && start.id === e.pointerId && !moved && !pinched) {
        const p = local(e);
        h.tap(p.x, p.y, e.pointerType);
      }
      start = null;
      pinch = null;
      h.active?.(false);
    }
  };

  const wheel = (e: WheelEvent) => {
    e.preventDefault();
    rect = el.getBoundingClientRect();
    const p = local(e);
    if (e.ctrlKey || Math.abs(e.deltaY) >= Math.abs(e.deltaX)) {
      h.zoom(p.x, p.y, wheelFactor(e.deltaY, e.deltaMode, e.ctrlKey));
    } else {
      h.pan(-e.deltaX, 0);
    }
  };

  const leave = (e: PointerEvent) => {
    if (!pointers.has(e.pointerId)) h.leave();
  };

  // Safari's own pinch-zoom of the page (it ignores maximum-scale): the canvas zooms instead.
  const gesture = (e: Event) => e.preventDefault();

  const opts = { passive: false } as const;
  el.addEventListener('pointerdown', down);
  el.addEventListener('pointermove', move);
  el.addEventListener('pointerup', up);
  el.addEventListener('pointercancel', up);
  el.addEventListener('pointerleave', leave);
  el.addEventListener('wheel', wheel, opts);
  el.addEventListener('gesturestart', gesture, opts);
  return () => {
    el.removeEventListener('gesturestart', gesture);
    el.removeEventListener('pointerdown', down);
    el.removeEventListener('pointermove', move);
    el.removeEventListener('pointerup', up);
    el.removeEventListener('pointercancel', up);
    el.removeEventListener('pointerleave', leave);
    el.removeEventListener('wheel', wheel);
  };
}
