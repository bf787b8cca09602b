import type { BudgetWindow } from '../protocol/types.ts';

// Calendar windows in an IANA zone (extension). Boundaries are local wall-clock midnights (or hours,
// Mondays, 1st of month) converted to instants with Intl, so DST and half-hour offsets are honoured.

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (format === undefined) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

interface WallClock {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
}

function wallClock(ms: number, timeZone: string): WallClock {
  const wall: WallClock = { year: 0, month: 0, day: 0, hour: 0, minute: 0, second: 0 };
  for (const part of formatter(timeZone).formatToParts(ms)) {
    if (part.type in wall) wall[part.type as keyof WallClock] = Number(part.value);
  }
  return wall;
}

/** Offset (wall − UTC) in ms of a zone at an instant. */
function offsetAt(ms: number, timeZone: string): number {
  const wall = wallClock(ms, timeZone);
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour, wall.minute, wall.second);
  return asUtc - Math.floor(ms / 1000) * 1000;
}

/** The instant of a local wall-clock time (given as a UTC-encoded ms value); DST gaps resolve forward. */
function instantOf(wallAsUtc: number, timeZone: string): number {
  const first = wallAsUtc - offsetAt(wallAsUtc, timeZone);
  const second = wallAsUtc - offsetAt(first, timeZone);
  return first === second ? first : Math.max(first, second);
}

/** Throws a RangeError if the time zone is unknown to Intl. */
export function checkTimeZone(timeZone: string): void {
  formatter(timeZone);
}

/** The period `[startMs, endMs)` of a budget window containing `nowMs`. Weeks start on Monday. */
export function windowBounds(window: BudgetWindow, nowMs: number): { startMs: number; endMs: number } {
  const timeZone = window.timeZone ?? 'UTC';
  const wall = wallClock(nowMs, timeZone);
  let start: number;
  let end: number;
  switch (window.period) {
    case 'hour':
      start = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour);
      end = Date.UTC(wall.year, wall.month - 1, wall.day, wall.hour + 1);
      break;
    case 'day':
      start = Date.UTC(wall.year, wall.month - 1, wall.day);
      end = Date.UTC(wall.year, wall.month - 1, wall.day + 1);
      break;
    case 'week': {
      const weekday = (new Date(Date.UTC(wall.year, wall.month - 1, wall.day)).getUTCDay() + 6) % 7;
      start = Date.UTC(wall.year, wall.month - 1, wall.day - weekday);
      end = Date.UTC(wall.year, wall.month - 1, wall.day - weekday + 7);
      break;
    }
    case 'month':
      start = Date.UTC(wall.year, wall.month - 1, 1);
      end = Date.UTC(wall.year, wall.month, 1);
      break;
  }
  const startMs = instantOf(start, timeZone);
  let endMs = instantOf(end, timeZone);
  // A DST fall-back can make a local hour repeat; never return an end at or before now.
  if (endMs <= nowMs) endMs = instantOf(end + 3_600_000, timeZone);
  return { startMs: Math.min(startMs, nowMs), endMs };
}
