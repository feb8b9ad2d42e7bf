// Builds server frames by hand, byte by byte, for the tests (little-endian as SPEC.md says).
import { deflateSync } from 'node:zlib';

export function snapshotFrame(seq: number, width: number, height: number, indices: Uint8Array): ArrayBuffer {
  const z = deflateSync(indices); // zlib stream, RFC 1950
  const out = new Uint8Array(12 + z.length);
  out[0] = 0x01;
  out[4] = seq & 255;
  out[5] = (seq >>> 8) & 255;
  out[6] = (seq >>> 16) & 255;
  out[7] = (seq >>> 24) & 255;
  out[8] = width & 255;
  out[9] = width >>> 8;
  out[10] = height & 255;
  out[11] = height >>> 8;
  out.set(z, 12);
  return out.buffer;
}

export function deltaFrame(seq: number, pixels: number[], colors: number[]): ArrayBuffer {
  const n = pixels.length;
  const out = new Uint8Array(12 + 5 * n);
  const u32 = (at: number, v: number) => {
    out[at] = v & 255;
    out[at + 1] = (v >>> 8) & 255;
    out[at + 2] = (v >>> 16) & 255;
    out[at + 3] = (v >>> 24) & 255;
  };
  out[0] = 0x02;
  u32(4, seq);
  u32(8, n);
  pixels.forEach((p, i) => u32(12 + 4 * i, p));
  colors.forEach((c, i) => (out[12 + 4 * n + i] = c));
  return out.buffer;
}

/** Unsigned LEB128 varints, as SPEC.md's compact delta carries the pixel steps. */
export function leb128(values: number[]): number[] {
  const out: number[] = [];
  for (let v of values) {
    while (v >= 0x80) {
      out.push((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    out.push(v);
  }
  return out;
}

/** A compact delta (0x03): `pixels` ascending, each once; zlib level 6 unless `level` says. */
export function compactDeltaFrame(seq: number, pixels: number[], colors: number[], level = 6): ArrayBuffer {
  const steps = pixels.map((p, i) => (i === 0 ? p : p - pixels[i - 1]));
  const z = deflateSync(Uint8Array.from([...leb128(steps), ...colors]), { level });
  const out = new Uint8Array(12 + z.length);
  const view = new DataView(out.buffer);
  out[0] = 0x03;
  view.setUint32(4, seq, true);
  view.setUint32(8, pixels.length, true);
  out.set(z, 12);
  return out.buffer;
}
