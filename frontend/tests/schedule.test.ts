import { describe, expect, it } from 'vitest';
import { NO_SCHEDULE, readSchedule, scheduleState } from '../src/lib/schedule';

describe('schedule', () => {
  it('reads opens_at_ms and closes_at_ms from a hello, and nothing from one without them', () => {
    const hello = { t: 'hello', open: false, opens_at_ms: 1_700_000_060_000, closes_at_ms: 1_700_003_600_000 };
    expect(readSchedule(JSON.stringify(hello))).toEqual({ opensAtMs: 1_700_000_060_000, closesAtMs: 1_700_003_600_000 });
    expect(readSchedule('{"t":"hello","open":true}')).toEqual(NO_SCHEDULE);
    expect(readSchedule('{"t":"hello","opens_at_ms":"soon","closes_at_ms":-5}')).toEqual(NO_SCHEDULE);
    expect(readSchedule('not json')).toEqual(NO_SCHEDULE);
  });

  it('counts down to the opening, then waits for it, and says closed otherwise', () => {
    const at = 1_700_000_060_000;
    expect(scheduleState(false, { opensAtMs: at, closesAtMs: 0 }, at - 61_500)).toEqual({ kind: 'opens-in', ms: 61_500 });
    expect(scheduleState(false, { opensAtMs: at, closesAtMs: 0 }, at)).toEqual({ kind: 'opening' });
    expect(scheduleState(false, NO_SCHEDULE, at)).toEqual({ kind: 'closed' });
  });

  it('counts down to a closing while open', () => {
    const at = 1_700_000_060_000;
    expect(scheduleState(true, { opensAtMs: 0, closesAtMs: at }, at - 5_000)).toEqual({ kind: 'closes-in', ms: 5_000 });
    expect(scheduleState(true, { opensAtMs: 0, closesAtMs: at }, at + 1)).toEqual({ kind: 'none' });
    expect(scheduleState(true, NO_SCHEDULE, at)).toEqual({ kind: 'none' });
  });
});
