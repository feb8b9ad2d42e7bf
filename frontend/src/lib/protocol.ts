/**
 * The wire format of `/ws` (SPEC.md, "Websocket /ws"): pure decode/encode, no DOM, no socket.
 *
 * Binary frames are little-endian:
 *   snapshot  byte 0 = 0x01, bytes 1-3 = 0, u32 seq @4, u16 width @8, u16 height @10,
 *             then a zlib stream (RFC 1950) of width*height palette indices, row-major.
 *   delta     byte 0 = 0x02, bytes 1-3 = 0, u32 seq @4, u32 n @8,
 *             then n u32 pixel indices (y*width+x) @12, then n u8 palette indices.
 * Text frames are JSON objects with a type field `t`.
 */

export const FRAME_SNAPSHOT = 0x01;
export const FRAME_DELTA = 0x02;
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
  throw new ProtocolError(`unknown binary frame type 0x${kind.toString(16).padStart(2, '0')}`);
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

export type ServerMessage = Hello | Placed | ServerError | Tick;

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
