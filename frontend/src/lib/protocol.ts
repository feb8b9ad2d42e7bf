/**
 * The wire format of `/ws` (SPEC.md, "Websocket /ws"): pure decode/encode, no DOM, no socket.
 *
 * Binary frames are little-endian:
 *   snapshot  byte 0 = 0x01, bytes 1-3 = 0, u32 seq @4, u16 width @8, u16 height @10,
 *             then a zlib stream (RFC 1950) of width*height palette indices, row-major.
 *   delta     byte 0 = 0x02, bytes 1-3 = 0, u32 seq @4, u32 n @8,
 *             then n u32 pixel indices (y*width+x) @12, then n u8 palette indices.
 *   compact   byte 0 = 0x03, bytes 1-3 = 0, u32 seq @4, u32 n @8, then a zlib stream of n unsigned
 *             LEB128 varints (the pixel indices ascending: the first as is, each next as its
 *             difference from the one before), then n u8 palette indices. Only on `/ws?v=2`,
 *             which the page asks for; it then also gets `{"t":"sum","seq":N,"crc32":C}` (the
 *             CRC-32 of its canvas at seq N) instead of a whole snapshot every minute.
 * Text frames are JSON objects with a type field `t`.
 */
import { unzlibSync } from 'fflate';

export const FRAME_SNAPSHOT = 0x01;
export const FRAME_DELTA = 0x02;
export const FRAME_COMPACT_DELTA = 0x03;
export const SNAPSHOT_HEADER_BYTES = 12;
export const DELTA_HEADER_BYTES = 12;

/** Error codes the server may send in `{"t":"error"}` (SPEC.md). Unknown codes are passed through. */
export type ErrorCode =
  | 'cooldown'
  | 'out_of_bounds'
  | 'bad_color'
  | 'unauthenticated'
  | 'token_expired'
  | 'banned'
  | 'closed'
  | 'bad_message'
  | 'rate_limited'
  | 'unavailable';

/** Websocket close codes with a meaning for the client. */
export const CLOSE_SERVICE_RESTART = 1012; // pod shutting down: reconnect at once
export const CLOSE_POLICY_VIOLATION = 1008; // over the message rate
export const CLOSE_TOO_BIG = 1009; // a message over 4096 bytes

export class ProtocolError extends Error {
  override name = 'ProtocolError';
}

// ---------------------------------------------------------------- binary frames

export interface SnapshotHeader {
  kind: 'snapshot';
  seq: number;
  width: number;
  height: number;
  /** The zlib stream (a view into the frame, not a copy). */
  data: Uint8Array;
}

/** A delta, from a 0x02 or a 0x03 frame (the same meaning). */
export interface Delta {
  kind: 'delta';
  seq: number;
  /** Pixel indices, y*width+x in the width of the latest snapshot. */
  pixels: Uint32Array;
  /** Palette indices, one per pixel. */
  colors: Uint8Array;
}

export type BinaryFrame = SnapshotHeader | Delta;

/** Decode a binary frame: a snapshot's header (its data still compressed) or a whole delta. */
export function decodeBinary(frame: ArrayBuffer | Uint8Array): BinaryFrame {
  const bytes = frame instanceof Uint8Array ? frame : new Uint8Array(frame);
  if (bytes.byteLength < 12) {
    throw new ProtocolError(`binary frame too short: expected at least 12 bytes, got ${bytes.byteLength}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const kind = bytes[0];
  const seq = view.getUint32(4, true);
  if (kind === FRAME_SNAPSHOT) {
    return {
      kind: 'snapshot',
      seq,
      width: view.getUint16(8, true),
      height: view.getUint16(10, true),
      data: bytes.subarray(SNAPSHOT_HEADER_BYTES),
    };
  }
  if (kind === FRAME_DELTA) {
    const n = view.getUint32(8, true);
    const expected = DELTA_HEADER_BYTES + n * 5;
    if (bytes.byteLength < expected) {
      throw new ProtocolError(`delta of ${n} pixels needs ${expected} bytes, got ${bytes.byteLength}`);
    }
    const start = bytes.byteOffset + DELTA_HEADER_BYTES;
    let pixels: Uint32Array;
    if (LITTLE_ENDIAN_HOST && start % 4 === 0) {
      // Zero-copy view: the common case (a websocket frame is its own ArrayBuffer).
      pixels = new Uint32Array(bytes.buffer, start, n);
    } else {
      pixels = new Uint32Array(n);
      for (let i = 0; i < n; i++) pixels[i] = view.getUint32(DELTA_HEADER_BYTES + 4 * i, true);
    }
    const colors = bytes.subarray(DELTA_HEADER_BYTES + 4 * n, DELTA_HEADER_BYTES + 5 * n);
    return { kind: 'delta', seq, pixels, colors };
  }
  if (kind === FRAME_COMPACT_DELTA) return decodeCompactDelta(seq, view.getUint32(8, true), bytes);
  throw new ProtocolError(`unknown binary frame type 0x${kind.toString(16).padStart(2, '0')}`);
}

/** 128 ** k: the weight of a varint's byte k (multiplied, not shifted: bits past 31 stay exact). */
const VARINT_WEIGHT = [1, 128, 16384, 2097152, 268435456];

/** A compact delta (0x03): inflate at once (fflate, synchronous), then read the varints. */
function decodeCompactDelta(seq: number, n: number, bytes: Uint8Array): Delta {
  let body: Uint8Array;
  try {
    body = unzlibSync(bytes.subarray(DELTA_HEADER_BYTES));
  } catch (err) {
    throw new ProtocolError(`compact delta ${seq}: bad zlib stream (${String(err)})`);
  }
  const length = body.length;
  if (length > 6 * n) throw new ProtocolError(`compact delta ${seq}: more bytes than ${n} pixels can take`);
  const pixels = new Uint32Array(n);
  let pos = 0;
  let pixel = 0;
  for (let i = 0; i < n; i++) {
    let b = body[pos++];
    let step = b & 0x7f;
    let k = 1;
    while (b & 0x80) {
      if (k === 5) throw new ProtocolError(`compact delta ${seq}: a varint longer than 5 bytes`);
      b = body[pos++]; // past the end: undefined, read as 0; the length check below catches it
      step += (b & 0x7f) * VARINT_WEIGHT[k++];
    }
    if (i > 0 && step === 0) throw new ProtocolError(`compact delta ${seq}: pixels must be ascending, each once`);
    pixel += step;
    if (pixel > 0xffffffff) throw new ProtocolError(`compact delta ${seq}: pixel index past u32`);
    pixels[i] = pixel;
  }
  if (pos + n !== length) {
    throw new ProtocolError(`compact delta ${seq}: ${n} pixels need ${pos + n} bytes, got ${length}`);
  }
  return { kind: 'delta', seq, pixels, colors: body.subarray(pos, length) };
}

let crcTable: Uint32Array | null = null;

/** Slicing-by-8 tables for CRC-32 (zlib's: reflected, polynomial 0xEDB88320). */
function crcTables(): Uint32Array {
  if (crcTable) return crcTable;
  const t = new Uint32Array(8 * 256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c;
  }
  for (let i = 0; i < 256; i++) {
    for (let s = 1; s < 8; s++) t[s * 256 + i] = (t[(s - 1) * 256 + i] >>> 8) ^ t[t[(s - 1) * 256 + i] & 0xff];
  }
  crcTable = t;
  return t;
}

/** zlib's CRC-32 of `bytes` (what `{"t":"sum"}` carries for the canvas), as an unsigned number. */
export function crc32(bytes: Uint8Array): number {
  const t = crcTables();
  let c = ~0;
  let i = 0;
  const end8 = bytes.length - (bytes.length % 8);
  for (; i < end8; i += 8) {
    c ^= bytes[i] | (bytes[i + 1] << 8) | (bytes[i + 2] << 16) | (bytes[i + 3] << 24);
    c =
      t[1792 + (c & 0xff)] ^
      t[1536 + ((c >>> 8) & 0xff)] ^
      t[1280 + ((c >>> 16) & 0xff)] ^
      t[1024 + (c >>> 24)] ^
      t[768 + bytes[i + 4]] ^
      t[512 + bytes[i + 5]] ^
      t[256 + bytes[i + 6]] ^
      t[bytes[i + 7]];
  }
  for (; i < bytes.length; i++) c = t[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

export const LITTLE_ENDIAN_HOST = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Inflate a snapshot's zlib stream (RFC 1950, `DecompressionStream('deflate')`) and check its length.
 */
export async function inflateSnapshot(header: SnapshotHeader): Promise<Uint8Array> {
  const expected = header.width * header.height;
  const out = await inflateZlib(header.data, expected);
  if (out.byteLength !== expected) {
    throw new ProtocolError(
      `snapshot of ${header.width}x${header.height} needs ${expected} bytes, inflated to ${out.byteLength}`,
    );
  }
  return out;
}

/** Inflate a zlib stream; `sizeHint` lets the result be written into one buffer without copies. */
export async function inflateZlib(data: Uint8Array, sizeHint = 0): Promise<Uint8Array> {
  const stream = new Blob([data as BlobPart]).stream().pipeThrough(new DecompressionStream('deflate'));
  const reader = stream.getReader();
  let out = new Uint8Array(sizeHint);
  let length = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    if (length + value.byteLength > out.byteLength) {
      const grown = new Uint8Array(Math.max(out.byteLength * 2, length + value.byteLength));
      grown.set(out.subarray(0, length));
      out = grown;
    }
    out.set(value, length);
    length += value.byteLength;
  }
  return length === out.byteLength ? out : out.subarray(0, length);
}

// ---------------------------------------------------------------- text frames

export interface User {
  id: string;
  name: string;
}

export interface Hello {
  t: 'hello';
  v: number;
  width: number;
  height: number;
  palette: string[];
  cooldown_ms: number;
  open: boolean;
  user: User | null;
  next_place_at_ms: number;
}

export interface Placed {
  t: 'placed';
  id: unknown;
  x: number;
  y: number;
  c: number;
  next_place_at_ms: number;
}

export interface ServerError {
  t: 'error';
  id: unknown;
  code: ErrorCode | string;
  message: string;
  retry_at_ms?: number;
}

export interface Tick {
  t: 'tick';
  seq: number;
}

/** The canvas's CRC-32 at `seq` (v2 only, every PLACE_RESYNC_S): resync if ours differs. */
export interface Sum {
  t: 'sum';
  seq: number;
  crc32: number;
}

export type ServerMessage = Hello | Placed | ServerError | Tick | Sum;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const num = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);

/**
 * Parse a text frame. Returns null for a message type this client does not know (the server may add
 * new ones) and throws ProtocolError for a known type with a wrong shape.
 */
export function decodeText(text: string): ServerMessage | null {
  let msg: unknown;
  try {
    msg = JSON.parse(text);
  } catch {
    throw new ProtocolError(`text frame is not JSON: ${text.slice(0, 80)}`);
  }
  if (!isObject(msg) || typeof msg.t !== 'string') {
    throw new ProtocolError('text frame is not an object with a string "t"');
  }
  switch (msg.t) {
    case 'hello': {
      const ok =
        num(msg.width) &&
        num(msg.height) &&
        Array.isArray(msg.palette) &&
        msg.palette.every((c) => typeof c === 'string') &&
        (msg.user === null || msg.user === undefined || (isObject(msg.user) && typeof msg.user.name === 'string'));
      if (!ok) throw new ProtocolError('hello without width, height, palette or with a bad user');
      const user = isObject(msg.user)
        ? { id: String(msg.user.id ?? msg.user.name), name: String(msg.user.name) }
        : null;
      return {
        t: 'hello',
        v: num(msg.v) ? msg.v : 1,
        width: msg.width as number,
        height: msg.height as number,
        palette: msg.palette as string[],
        cooldown_ms: num(msg.cooldown_ms) ? msg.cooldown_ms : 0,
        open: msg.open !== false,
        user,
        next_place_at_ms: num(msg.next_place_at_ms) ? msg.next_place_at_ms : 0,
      };
    }
    case 'placed':
      if (!num(msg.x) || !num(msg.y) || !num(msg.c)) throw new ProtocolError('placed without x, y, c');
      return {
        t: 'placed',
        id: msg.id ?? null,
        x: msg.x,
        y: msg.y,
        c: msg.c,
        next_place_at_ms: num(msg.next_place_at_ms) ? msg.next_place_at_ms : 0,
      };
    case 'error':
      return {
        t: 'error',
        id: msg.id ?? null,
        code: typeof msg.code === 'string' ? msg.code : 'unknown',
        message: typeof msg.message === 'string' ? msg.message : '',
        ...(num(msg.retry_at_ms) ? { retry_at_ms: msg.retry_at_ms } : {}),
      };
    case 'tick':
      if (!num(msg.seq)) throw new ProtocolError('tick without seq');
      return { t: 'tick', seq: msg.seq };
    case 'sum':
      if (!num(msg.seq) || !num(msg.crc32)) throw new ProtocolError('sum without seq or crc32');
      return { t: 'sum', seq: msg.seq, crc32: msg.crc32 };
    default:
      return null;
  }
}

export function encodeAuth(token: string): string {
  return JSON.stringify({ t: 'auth', token });
}

export function encodePlace(id: number, x: number, y: number, c: number): string {
  return JSON.stringify({ t: 'place', id, x, y, c });
}

export function encodeResync(): string {
  return '{"t":"resync"}';
}
