// Applying a 4,000-pixel delta (decode + apply, the work done per frame from the socket) to a
// 1000x1000 canvas must take under 2 ms. Prints the figure for docs/frontend-performance.md.
import { describe, expect, it } from 'vitest';
import { CanvasState } from '../src/lib/canvasState';
import { decodeBinary, type Delta } from '../src/lib/protocol';
import { deltaFrame } from './frames';

const DEFAULT_PALETTE =
  '#ffffff #d4d7d9 #898d90 #515252 #000000 #ffb470 #9c6926 #6d482f #ff99aa #ff3881 #de107f #e4abff #b44ac0 #811e9f #94b3ff #6a5cff #493ac1 #51e9f4 #3690ea #2450a4 #00ccc0 #009eaa #00756f #7eed56 #00cc78 #00a368 #fff8b8 #ffd635 #ffa800 #ff4500 #be0039 #6d001a'.split(
    ' ',
  );

describe('performance', () => {
  it('applies a 4,000-pixel delta to a 1000x1000 canvas in under 2 ms', () => {
    const W = 1000;
    const H = 1000;
    const N = 4000;
    const state = new CanvasState();
    state.setPalette(DEFAULT_PALETTE);
    state.loadSnapshot(0, W, H, new Uint8Array(W * H));
    let seed = 42;
    // 32-bit LCG in integer arithmetic (Math.imul), so it never degenerates into a short cycle.
    const rand = () => (seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32;
    const ROUNDS = 300;
    const frames: ArrayBuffer[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const pixels = new Set<number>();
      while (pixels.size < N) pixels.add(Math.floor(rand() * W * H));
      frames.push(deltaFrame(r + 1, [...pixels], [...pixels].map(() => Math.floor(rand() * 32))));
    }
    const times: number[] = [];
    for (const f of frames) {
      const t0 = performance.now();
      const result = state.applyDelta(decodeBinary(f) as Delta);
      state.takeDirty();
      times.push(performance.now() - t0);
      expect(result).toBe('applied');
    }
    const sorted = times.slice(50).sort((a, b) => a - b); // after warm-up
    const median = sorted[Math.floor(sorted.length / 2)];
    const p99 = sorted[Math.floor(sorted.length * 0.99)];
    console.log(
      `delta apply, ${N} pixels on ${W}x${H}: median ${(median * 1000).toFixed(0)} µs, p99 ${(p99 * 1000).toFixed(0)} µs, max ${(sorted.at(-1)! * 1000).toFixed(0)} µs (${sorted.length} runs after warm-up)`,
    );
    expect(median).toBeLessThan(2);
    expect(p99).toBeLessThan(2);
  });
});
