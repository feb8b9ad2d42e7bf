/**
 * The event's schedule, as `hello` carries it: `opens_at_ms` / `closes_at_ms` (Unix ms on the server's
 * clock) while `place admin open --at` / `close --at` is pending, absent otherwise. Pure.
 */

export interface Schedule {
  /** When the canvas opens by itself (0: no opening pending). */
  opensAtMs: number;
  /** When the canvas closes by itself (0: no closing pending). */
  closesAtMs: number;
}

export const NO_SCHEDULE: Schedule = { opensAtMs: 0, closesAtMs: 0 };

const time = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0);

/** The schedule fields of a `hello` text frame (its other fields are the protocol decoder's). */
export function readSchedule(text: string): Schedule {
  try {
    const msg: unknown = JSON.parse(text);
    if (typeof msg !== 'object' || msg === null) return NO_SCHEDULE;
    const m = msg as Record<string, unknown>;
    return { opensAtMs: time(m.opens_at_ms), closesAtMs: time(m.closes_at_ms) };
  } catch {
    return NO_SCHEDULE;
  }
}

/** What the page says about opening and closing, now. */
export type ScheduleState =
  | { kind: 'opens-in'; ms: number }
  | { kind: 'opening' }
  | { kind: 'closed' }
  | { kind: 'closes-in'; ms: number }
  | { kind: 'none' };

export function scheduleState(open: boolean, schedule: Schedule, serverNow: number): ScheduleState {
  if (!open) {
    if (!schedule.opensAtMs) return { kind: 'closed' };
    const ms = schedule.opensAtMs - serverNow;
    // the moment has come: the server's hello with open: true is on its way
    return ms > 0 ? { kind: 'opens-in', ms } : { kind: 'opening' };
  }
  if (schedule.closesAtMs && schedule.closesAtMs > serverNow) {
    return { kind: 'closes-in', ms: schedule.closesAtMs - serverNow };
  }
  return { kind: 'none' };
}
