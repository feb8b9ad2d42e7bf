// The compact delta (0x03) and the checksum (`sum`) of /ws?v=2: property tests on generated deltas.
import { deflateSync } from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CanvasState } from '../src/lib/canvasState';
import { CanvasFeed } from '../src/lib/feed';
import { ProtocolError, crc32, decodeBinary, decodeText, type Delta } from '../src/lib/protocol';
import { compactDeltaFrame, deltaFrame, snapshotFrame } from './frames';

/** A tick's delta as the ticker makes it: distinct pixels, ascending, one colour each. */
const delta = (size: number, maxLength = 400) =>
  fc
    .uniqueArray(fc.integer({ min: 0, max: size - 1 }), { maxLength })
    .chain((pixels) => {
      pixels.sort((a, b) => a - b);
      return fc.tuple(
        fc.constant(pixels),
        fc.array(fc.integer({ min: 0, max: 255 }), { minLength: pixels.length, maxLength: pixels.length }),
      );
    });

function compactFrame(seq: number, body: number[]): Uint8Array {
  const z = deflateSync(Uint8Array.from(body));
  const out = new Uint8Array(12 + z.length);
  out[0] = 3;
  new DataView(out.buffer).setUint32(4, seq, true);
  new DataView(out.buffer).setUint32(8, body.length > 0 ? 1 : 0, true);
  out.set(z, 12);
  return out;
}

describe('compact delta (0x03)', () => {
  it('decodes the contract layout from exact bytes', () => {
    // pixels 1, 130, 70000: varints 1, 129 (0x81 0x01), 69870 (0xee 0xa1 0x04); colours 3, 31, 0
    const z = deflateSync(Uint8Array.from([0x01, 0x81, 0x01, 0xee, 0xa1, 0x04, 3, 31, 0]));
    const frame = Uint8Array.from([3, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0, ...z]);
    const d = decodeBinary(frame) as Delta;
    expect(d).toMatchObject({ kind: 'delta', seq: 5 });
    expect([...d.pixels]).toEqual([1, 130, 70000]);
    expect([...d.colors]).toEqual([3, 31, 0]);
  });

  it('round-trips generated deltas on a 2000x2000 canvas, and means what the 0x02 frame means', () => {
    fc.assert(
      fc.property(delta(2000 * 2000), fc.integer({ min: 0, max: 0xffffffff }), ([pixels, colors], seq) => {
        const compact = decodeBinary(compactDeltaFrame(seq, pixels, colors)) as Delta;
        const plain = decodeBinary(deltaFrame(seq, pixels, colors)) as Delta;
        expect(compact.seq).toBe(seq);
        expect([...compact.pixels]).toEqual(pixels);
        expect([...compact.colors]).toEqual(colors);
        expect([...compact.pixels]).toEqual([...plain.pixels]);
        expect([...compact.colors]).toEqual([...plain.colors]);
      }),
      { numRuns: 300 },
    );
  });

  it('takes any u32 pixel index, at every varint length', () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.integer({ min: 0, max: 0xffffffff }), { minLength: 1, maxLength: 40 }), (raw) => {
        const pixels = raw.sort((a, b) => a - b);
        const colors = pixels.map((_, i) => i % 256);
        expect([...(decodeBinary(compactDeltaFrame(1, pixels, colors)) as Delta).pixels]).toEqual(pixels);
      }),
    );
  });

  it('decodes an empty, a single-pixel and a full-canvas delta', () => {
    const empty = decodeBinary(compactDeltaFrame(9, [], [])) as Delta;
    expect(empty.pixels.length).toBe(0);
    expect(empty.colors.length).toBe(0);
    for (const p of [0, 1, 999_999, 0xffffffff]) {
      const one = decodeBinary(compactDeltaFrame(2, [p], [7])) as Delta;
      expect([...one.pixels]).toEqual([p]);
      expect([...one.colors]).toEqual([7]);
    }
    const all = Array.from({ length: 1000 * 1000 }, (_, i) => i);
    const full = decodeBinary(compactDeltaFrame(3, all, all.map((i) => i % 32))) as Delta;
    expect(full.pixels.length).toBe(1_000_000);
    expect(full.pixels[999_999]).toBe(999_999);
    expect(full.colors[33]).toBe(1);
  });

  it('refuses frames that break the contract', () => {
    const bad: [Uint8Array, RegExp][] = [
      [compactFrame(1, [0x80, 0x80]), /bytes|varint/], // a varint that never ends
      [compactFrame(1, [0x80, 0x80, 0x80, 0x80, 0x80, 0x01, 7]), /more bytes|longer than 5/],
      [Uint8Array.from([3, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3]), /zlib/],
    ];
    for (const [frame, message] of bad) expect(() => decodeBinary(frame)).toThrow(message);
    // one colour short, the same pixel twice
    const short = Uint8Array.from([3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, ...deflateSync(Uint8Array.from([1, 2, 7]))]);
    expect(() => decodeBinary(short)).toThrow(ProtocolError);
    const twice = Uint8Array.from([3, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, ...deflateSync(Uint8Array.from([4, 0, 1, 1]))]);
    expect(() => decodeBinary(twice)).toThrow(/ascending/);
  });

  it('applies to the canvas exactly as the 0x02 frame of the same tick', async () => {
    fc.assert(
      fc.property(delta(64 * 48, 200), ([pixels, colors]) => {
        const a = new CanvasState();
        const b = new CanvasState();
        for (const s of [a, b]) {
          s.setPalette(Array.from({ length: 256 }, (_, i) => `#0000${i.toString(16).padStart(2, '0')}`));
          s.loadSnapshot(1, 64, 48, new Uint8Array(64 * 48));
        }
        expect(a.applyDelta(decodeBinary(compactDeltaFrame(2, pixels, colors)) as Delta)).toBe('applied');
        expect(b.applyDelta(decodeBinary(deltaFrame(2, pixels, colors)) as Delta)).toBe('applied');
        expect([...a.indices]).toEqual([...b.indices]);
        expect(a.checksum()).toBe(b.checksum());
      }),
      { numRuns: 100 },
    );
  });
});

describe('checksum (sum)', () => {
  it('is zlib crc32', () => {
    expect(crc32(new Uint8Array(0))).toBe(0);
    expect(crc32(new TextEncoder().encode('123456789'))).toBe(0xcbf43926); // the standard check value
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        // the slicing path (8 bytes at a time) and the byte path agree with a bit-by-bit CRC
        let c = ~0;
        for (const b of bytes) {
          c ^= b;
          for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
        }
        expect(crc32(bytes)).toBe(~c >>> 0);
      }),
    );
  });

  it('decodes sum', () => {
    expect(decodeText('{"t":"sum","seq":12,"crc32":4000000000}')).toEqual({ t: 'sum', seq: 12, crc32: 4000000000 });
    expect(() => decodeText('{"t":"sum","seq":12}')).toThrow(ProtocolError);
  });

  it('asks for the canvas only when its own differs at that seq, or is behind', async () => {
    const state = new CanvasState();
    state.setPalette(['#ffffff', '#000000']);
    const resyncs: string[] = [];
    const feed = new CanvasFeed({ state, requestResync: (r) => resyncs.push(r), log: () => undefined, now: () => 0, resyncRetryMs: 0 });
    const pixels = Uint8Array.from([0, 1, 1, 0, 0, 1]);
    feed.pushBinary(snapshotFrame(4, 3, 2, pixels));
    feed.pushSum(4, crc32(pixels)); // checked after the snapshot it follows, though that inflates later
    feed.pushSum(3, 12345); // older than the canvas: nothing to compare
    await feed.whenIdle();
    expect(resyncs).toEqual([]);
    feed.pushSum(4, crc32(pixels) ^ 1);
    await feed.whenIdle();
    expect(resyncs).toEqual(['canvas differs from the server\'s at seq 4']);
    feed.pushSum(6, 0);
    await feed.whenIdle();
    expect(resyncs[1]).toMatch(/ahead/);
  });
});
