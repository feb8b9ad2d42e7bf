import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  ProtocolError,
  decodeBinary,
  decodeText,
  encodeAuth,
  encodePlace,
  encodeResync,
  inflateSnapshot,
  type Delta,
  type SnapshotHeader,
} from '../src/lib/protocol';

describe('binary frames', () => {
  it('decodes a snapshot header from exact bytes', async () => {
    const pixels = new Uint8Array([0, 1, 2, 3, 4, 5]); // 3x2
    const z = deflateSync(pixels);
    const frame = new Uint8Array([
      0x01, 0, 0, 0, // type, padding
      0x78, 0x56, 0x34, 0x12, // seq 0x12345678 little-endian
      0x03, 0x00, // width 3
      0x02, 0x00, // height 2
      ...z,
    ]);
    const f = decodeBinary(frame.buffer) as SnapshotHeader;
    expect(f.kind).toBe('snapshot');
    expect(f.seq).toBe(0x12345678);
    expect(f.width).toBe(3);
    expect(f.height).toBe(2);
    expect([...(await inflateSnapshot(f))]).toEqual([0, 1, 2, 3, 4, 5]);
  });

  it('reads u16 sizes above 255 little-endian', () => {
    const frame = new Uint8Array([0x01, 0, 0, 0, 1, 0, 0, 0, 0xe8, 0x03, 0x00, 0x01, 0x78, 0x9c]);
    const f = decodeBinary(frame) as SnapshotHeader;
    expect(f.width).toBe(1000);
    expect(f.height).toBe(256);
    expect(f.seq).toBe(1);
  });

  it('rejects a snapshot whose data has the wrong length', async () => {
    const z = deflateSync(new Uint8Array(5));
    const frame = new Uint8Array([0x01, 0, 0, 0, 0, 0, 0, 0, 3, 0, 2, 0, ...z]);
    await expect(inflateSnapshot(decodeBinary(frame) as SnapshotHeader)).rejects.toThrow(ProtocolError);
  });

  it('decodes a delta from exact bytes', () => {
    const frame = new Uint8Array([
      0x02, 0, 0, 0,
      0x07, 0x00, 0x00, 0x00, // seq 7
      0x02, 0x00, 0x00, 0x00, // n = 2
      0x0c, 0x00, 0x00, 0x00, // pixel 12
      0x40, 0x42, 0x0f, 0x00, // pixel 1_000_000
      0x05, 0x1f, // colours 5, 31
    ]);
    const d = decodeBinary(frame.buffer) as Delta;
    expect(d.kind).toBe('delta');
    expect(d.seq).toBe(7);
    expect([...d.pixels]).toEqual([12, 1_000_000]);
    expect([...d.colors]).toEqual([5, 31]);
  });

  it('decodes a delta at an unaligned offset (copying path)', () => {
    const inner = [0x02, 0, 0, 0, 9, 0, 0, 0, 1, 0, 0, 0, 0x34, 0x12, 0, 0, 3];
    const shifted = new Uint8Array([0xff, ...inner]).subarray(1);
    const d = decodeBinary(shifted) as Delta;
    expect(d.seq).toBe(9);
    expect([...d.pixels]).toEqual([0x1234]);
    expect([...d.colors]).toEqual([3]);
  });

  it('decodes an empty delta', () => {
    const d = decodeBinary(new Uint8Array([2, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0])) as Delta;
    expect(d.seq).toBe(0xffffffff);
    expect(d.pixels.length).toBe(0);
  });

  it('refuses short, truncated and unknown frames', () => {
    expect(() => decodeBinary(new Uint8Array([1, 0, 0]))).toThrow(ProtocolError);
    expect(() => decodeBinary(new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0]))).toThrow(/needs 22 bytes/);
    expect(() => decodeBinary(new Uint8Array([9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]))).toThrow(/0x09/);
  });
});

describe('text frames', () => {
  it('decodes hello', () => {
    const m = decodeText(
      '{"t":"hello","v":1,"width":1000,"height":500,"palette":["#ffffff","#000000"],"cooldown_ms":300000,"open":true,"user":null,"next_place_at_ms":0}',
    );
    expect(m).toEqual({
      t: 'hello',
      v: 1,
      width: 1000,
      height: 500,
      palette: ['#ffffff', '#000000'],
      cooldown_ms: 300000,
      open: true,
      user: null,
      next_place_at_ms: 0,
    });
  });

  it('decodes hello with a user', () => {
    const m = decodeText(
      '{"t":"hello","v":1,"width":2,"height":2,"palette":["#fff"],"cooldown_ms":0,"open":false,"user":{"id":"u1","name":"Ann"},"next_place_at_ms":5}',
    );
    expect(m).toMatchObject({ user: { id: 'u1', name: 'Ann' }, open: false, next_place_at_ms: 5 });
  });

  it('decodes placed, error and tick', () => {
    expect(decodeText('{"t":"placed","id":7,"x":12,"y":34,"c":5,"next_place_at_ms":1764426000000}')).toEqual({
      t: 'placed',
      id: 7,
      x: 12,
      y: 34,
      c: 5,
      next_place_at_ms: 1764426000000,
    });
    expect(decodeText('{"t":"error","id":null,"code":"cooldown","message":"wait","retry_at_ms":99}')).toEqual({
      t: 'error',
      id: null,
      code: 'cooldown',
      message: 'wait',
      retry_at_ms: 99,
    });
    expect(decodeText('{"t":"error","id":3,"code":"banned","message":"no"}')).not.toHaveProperty('retry_at_ms');
    expect(decodeText('{"t":"tick","seq":42}')).toEqual({ t: 'tick', seq: 42 });
  });

  it('ignores unknown message types and rejects malformed ones', () => {
    expect(decodeText('{"t":"confetti","n":3}')).toBeNull();
    expect(() => decodeText('not json')).toThrow(ProtocolError);
    expect(() => decodeText('[1,2]')).toThrow(ProtocolError);
    expect(() => decodeText('{"t":"hello","width":"x"}')).toThrow(ProtocolError);
    expect(() => decodeText('{"t":"tick"}')).toThrow(ProtocolError);
  });

  it('encodes client messages', () => {
    expect(JSON.parse(encodeAuth('ann'))).toEqual({ t: 'auth', token: 'ann' });
    expect(JSON.parse(encodePlace(7, 12, 34, 5))).toEqual({ t: 'place', id: 7, x: 12, y: 34, c: 5 });
    expect(JSON.parse(encodeResync())).toEqual({ t: 'resync' });
  });
});
