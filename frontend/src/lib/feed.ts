/**
 * Feeds the server's canvas frames into a CanvasState in arrival order.
 *
 * A snapshot inflates asynchronously (DecompressionStream), so every frame goes through one promise
 * chain: a delta that arrives while a snapshot is inflating waits for it, and is then ignored if the
 * snapshot already holds it. Gaps, corrupt deltas and heartbeats ahead of the canvas ask for a resync,
 * at most once per `resyncRetryMs` until a snapshot arrives. No DOM, no socket.
 */
import type { CanvasState, DeltaResult } from './canvasState';
import { decodeBinary, inflateSnapshot, type SnapshotHeader } from './protocol';

export interface FeedOptions {
  state: CanvasState;
  /** Send `{"t":"resync"}`. */
  requestResync: (reason: string) => void;
  /** Called after a snapshot or delta changed the state. */
  onChange?: (kind: 'snapshot' | 'delta', result?: DeltaResult) => void;
  inflate?: (header: SnapshotHeader) => Promise<Uint8Array>;
  now?: () => number;
  resyncRetryMs?: number;
  log?: (message: string) => void;
}

export class CanvasFeed {
  private chain: Promise<void> = Promise.resolve();
  private resyncAskedAt = Number.NEGATIVE_INFINITY;
  private readonly opts: Required<Omit<FeedOptions, 'onChange'>> & Pick<FeedOptions, 'onChange'>;

  constructor(options: FeedOptions) {
    this.opts = {
      inflate: inflateSnapshot,
      now: () => performance.now(),
      resyncRetryMs: 3000,
      log: (m) => console.warn(`[place] ${m}`),
      ...options,
    };
  }

  /** A binary frame from the socket. */
  pushBinary(frame: ArrayBuffer): void {
    let decoded;
    try {
      decoded = decodeBinary(frame);
    } catch (err) {
      this.opts.log(String(err));
      this.resync('undecodable frame');
      return;
    }
    if (decoded.kind === 'snapshot') {
      const header = decoded;
      const inflating = this.opts.inflate(header);
      inflating.catch(() => undefined); // handled in the chain; avoid an unhandled rejection meanwhile
      this.enqueue(async () => {
        let indices: Uint8Array;
        try {
          indices = await inflating;
        } catch (err) {
          this.opts.log(`bad snapshot: ${String(err)}`);
          this.resync('bad snapshot');
          return;
        }
        this.opts.state.loadSnapshot(header.seq, header.width, header.height, indices);
        this.resyncAskedAt = Number.NEGATIVE_INFINITY;
        this.opts.onChange?.('snapshot');
      });
    } else {
      const delta = decoded;
      this.enqueue(() => {
        const result = this.opts.state.applyDelta(delta);
        if (result === 'gap') this.resync(`gap before seq ${delta.seq}`);
        if (result === 'corrupt') this.resync(`delta ${delta.seq} has pixels past the canvas`);
        if (result !== 'stale' && result !== 'no-snapshot') this.opts.onChange?.('delta', result);
      });
    }
  }

  /** A heartbeat `{"t":"tick","seq":N}`: a seq past ours means a delta went missing. */
  pushTick(seq: number): void {
    this.enqueue(() => {
      const { state } = this.opts;
      if (state.hasSnapshot && seq > state.seq) this.resync(`heartbeat seq ${seq} ahead of ${state.seq}`);
    });
  }

  /**
   * A checksum `{"t":"sum","seq":N,"crc32":C}` (v2): the canvas at seq N has CRC-32 C. Ours at N differs:
   * ask for the canvas; ours is behind N: a delta went missing. Checked in frame order.
   */
  pushSum(seq: number, crc: number): void {
    this.enqueue(() => {
      const { state } = this.opts;
      if (!state.hasSnapshot || seq < state.seq) return;
      if (seq > state.seq) this.resync(`checksum seq ${seq} ahead of ${state.seq}`);
      else if (state.checksum() !== crc) this.resync(`canvas differs from the server's at seq ${seq}`);
    });
  }

  /** Drop deltas until the next snapshot: a new connection, or a `hello` announcing another size. */
  expectSnapshot(): void {
    this.enqueue(() => this.opts.state.expectSnapshot());
  }

  /** Ask for a snapshot unless one was asked for within `resyncRetryMs` and has not come yet. */
  resync(reason: string): void {
    const now = this.opts.now();
    if (now - this.resyncAskedAt < this.opts.resyncRetryMs) return;
    this.resyncAskedAt = now;
    this.opts.requestResync(reason);
  }

  /** Resolves when every frame pushed so far has been applied (tests, measurements). */
  whenIdle(): Promise<void> {
    return this.chain;
  }

  private enqueue(step: () => void | Promise<void>): void {
    this.chain = this.chain.then(step).catch((err: unknown) => {
      this.opts.log(`frame failed: ${String(err)}`);
      this.resync('frame failed');
    });
  }
}
