// One shared, unref'd timer for every pending heartbeat beat. A setTimeout/clearTimeout pair per
// guarded call (almost all settle long before their first beat) was a measurable part of the call's
// overhead; here scheduling is a Set insert, and the timer is only re-armed for an earlier beat.

/** A beat waiting for its time. */
export interface ScheduledBeat {
  /** Due time on the `performance.now()` scale. */
  readonly at: number;
  run(): void;
}

/** A beat object that is scheduled again and again (see {@link scheduleAgain}). */
export interface ReusableBeat extends ScheduledBeat {
  at: number;
}

/** A beat fires when `performance.now()` is within this of its due time (timers round to ms). */
const SLACK_MS = 1;

const pending = new Set<ScheduledBeat>();
let timer: ReturnType<typeof setTimeout> | undefined;
let timerAt = Number.POSITIVE_INFINITY;
// The timer functions the timer was armed with: if they were swapped (fake timers in tests), the armed
// timer may never fire, so the next beat re-arms.
let armedWith: typeof setTimeout | undefined;
let clearArmed: typeof clearTimeout | undefined;

function arm(at: number): void {
  if (timer !== undefined) clearArmed?.(timer);
  armedWith = setTimeout;
  clearArmed = clearTimeout;
  timerAt = at;
  timer = setTimeout(fire, Math.max(0, at - performance.now()));
  timer.unref?.();
}

function fire(): void {
  timer = undefined;
  timerAt = Number.POSITIVE_INFINITY;
  const now = performance.now() + SLACK_MS;
  const due: ScheduledBeat[] = [];
  let next = Number.POSITIVE_INFINITY;
  for (const beat of pending) {
    if (beat.at <= now) due.push(beat);
    else if (beat.at < next) next = beat.at;
  }
  for (const beat of due) pending.delete(beat);
  if (next !== Number.POSITIVE_INFINITY) arm(next);
  due.sort((a, b) => a.at - b.at);
  for (const beat of due) beat.run();
}

/** Runs `run` after `delayMs` (like an unref'd setTimeout), unless cancelled first. */
export function scheduleBeat(delayMs: number, run: () => void): ScheduledBeat {
  const beat: ReusableBeat = { at: 0, run };
  scheduleAgain(beat, delayMs);
  return beat;
}

/**
 * Runs `beat.run()` after `delayMs`, unless cancelled first: like {@link scheduleBeat}, for an object
 * that is its own beat (a heartbeat schedules itself, with no closure or beat object per hold).
 */
export function scheduleAgain(beat: ReusableBeat, delayMs: number): void {
  beat.at = performance.now() + Math.max(0, delayMs);
  pending.add(beat);
  // A timer due later than this beat, or armed under other timer functions, is (re)armed.
  if (beat.at < timerAt || armedWith !== setTimeout) arm(beat.at);
}

/**
 * Forgets a beat. The shared timer is left armed: it costs nothing while unref'd, and clearing it on
 * every settlement would cost what the sharing saves.
 */
export function cancelBeat(beat: ScheduledBeat): void {
  pending.delete(beat);
}
