import { describe, expect, it } from 'vitest';
import { CanvasState } from '../src/lib/canvasState';
import { CanvasFeed } from '../src/lib/feed';
import { deltaFrame, snapshotFrame } from './frames';

function setup() {
  const state = new CanvasState();
  state.setPalette(['#ffffff', '#000000', '#ff4500']);
  const resyncs: string[] = [];
  let clock = 0;
  const changes: string[] = [];
  const feed = new CanvasFeed({
    state,
    requestResync: (r) => resyncs.push(r),
    onChange: (k) => changes.push(k),
    now: () => clock,
    log: () => undefined,
  });
  return { state, feed, resyncs, changes, advance: (ms: number) => (clock += ms) };
}

describe('CanvasFeed', () => {
  it('applies a snapshot then the deltas that follow it, in order', async () => {
    const { state, feed, resyncs, changes } = setup();
    feed.pushBinary(snapshotFrame(10, 3, 2, Uint8Array.from([0, 1, 2, 0, 1, 2])));
    // These arrive while the snapshot is still inflating: they must wait for it.
    feed.pushBinary(deltaFrame(9, [0], [2])); // older than the snapshot: ignored
    feed.pushBinary(deltaFrame(11, [0], [1]));
    feed.pushBinary(deltaFrame(12, [5], [0]));
    await feed.whenIdle();
    expect(state.seq).toBe(12);
    expect(state.shownIndex(0, 0)).toBe(1);
    expect(state.shownIndex(2, 1)).toBe(0);
    expect(resyncs).toEqual([]);
    expect(changes).toEqual(['snapshot', 'delta', 'delta']);
  });

  it('asks for a resync on a gap, once until a snapshot comes', async () => {
    const { state, feed, resyncs, advance } = setup();
    feed.pushBinary(snapshotFrame(1, 2, 2, new Uint8Array(4)));
    feed.pushBinary(deltaFrame(3, [0], [1]));
    feed.pushBinary(deltaFrame(5, [1], [1]));
    await feed.whenIdle();
    expect(resyncs).toHaveLength(1);
    expect(resyncs[0]).toMatch(/gap/);
    advance(5000);
    feed.pushBinary(deltaFrame(7, [1], [1]));
    await feed.whenIdle();
    expect(resyncs).toHaveLength(2); // still no snapshot after the retry interval: ask again
    feed.pushBinary(snapshotFrame(7, 2, 2, new Uint8Array(4)));
    feed.pushBinary(deltaFrame(9, [1], [1]));
    await feed.whenIdle();
    expect(resyncs).toHaveLength(3); // a snapshot re-arms at once
    expect(state.seq).toBe(9);
  });

  it('asks for a resync when a heartbeat is ahead of the canvas', async () => {
    const { feed, resyncs } = setup();
    feed.pushTick(4); // no snapshot yet: nothing to compare
    feed.pushBinary(snapshotFrame(4, 1, 1, new Uint8Array(1)));
    feed.pushTick(4);
    await feed.whenIdle();
    expect(resyncs).toEqual([]);
    feed.pushTick(5);
    await feed.whenIdle();
    expect(resyncs).toHaveLength(1);
  });

  it('follows a resize: deltas wait for the new snapshot', async () => {
    const { state, feed, resyncs } = setup();
    feed.pushBinary(snapshotFrame(1, 2, 2, new Uint8Array(4)));
    await feed.whenIdle();
    feed.expectSnapshot(); // hello with another size
    feed.pushBinary(deltaFrame(2, [3], [1])); // old-width delta before the new snapshot: dropped
    feed.pushBinary(snapshotFrame(3, 5, 4, new Uint8Array(20).fill(2)));
    feed.pushBinary(deltaFrame(4, [19], [1]));
    await feed.whenIdle();
    expect([state.width, state.height, state.seq]).toEqual([5, 4, 4]);
    expect(state.shownIndex(4, 3)).toBe(1);
    expect(state.shownIndex(0, 0)).toBe(2);
    expect(resyncs).toEqual([]);
  });

  it('resyncs on an undecodable frame or a broken snapshot, and keeps going', async () => {
    const { state, feed, resyncs, advance } = setup();
    feed.pushBinary(new Uint8Array([7, 0, 0]).buffer);
    expect(resyncs).toHaveLength(1);
    advance(10_000);
    const bad = new Uint8Array(snapshotFrame(1, 2, 2, new Uint8Array(4)));
    bad.fill(0xee, 14);
    feed.pushBinary(bad.buffer);
    await feed.whenIdle();
    expect(resyncs).toHaveLength(2);
    feed.pushBinary(snapshotFrame(2, 2, 2, new Uint8Array(4)));
    await feed.whenIdle();
    expect(state.seq).toBe(2);
  });
});
