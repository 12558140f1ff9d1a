/**
 * Just enough NCRONTAB (the six-field format of the Functions timer trigger:
 * `{second} {minute} {hour} {day} {month} {day-of-week}`) to find the slot a timer run belongs to.
 * The slot, not the wall clock, names the scheduled jobs: a timer that fires late, twice, or is retried
 * a few minutes later still computes the same slot and so the same instance ids.
 *
 * Evaluated in UTC (the Functions default; WEBSITE_TIME_ZONE is not supported on Linux Consumption or
 * Flex Consumption). Day and day-of-week must both match, as in the NCrontab library the host uses.
 */

export interface Schedule {
  readonly seconds: ReadonlySet<number>;
  readonly minutes: ReadonlySet<number>;
  readonly hours: ReadonlySet<number>;
  readonly days: ReadonlySet<number>;
  readonly months: ReadonlySet<number>;
  readonly daysOfWeek: ReadonlySet<number>;
}

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];

interface FieldSpec {
  readonly label: string;
  readonly min: number;
  readonly max: number;
  readonly names?: readonly string[];
  readonly nameBase?: number;
}

const FIELDS: readonly FieldSpec[] = [
  { label: "second", min: 0, max: 59 },
  { label: "minute", min: 0, max: 59 },
  { label: "hour", min: 0, max: 23 },
  { label: "day", min: 1, max: 31 },
  { label: "month", min: 1, max: 12, names: MONTHS, nameBase: 1 },
  { label: "day-of-week", min: 0, max: 6, names: DAYS, nameBase: 0 },
];

export class ScheduleError extends Error {
  override readonly name = "ScheduleError";
}

export function parseSchedule(expression: string): Schedule {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 6) throw new ScheduleError(`has ${parts.length} fields; NCRONTAB needs six: {second} {minute} {hour} {day} {month} {day-of-week}`);
  const sets = parts.map((part, i) => parseField(part, FIELDS[i]!));
  return { seconds: sets[0]!, minutes: sets[1]!, hours: sets[2]!, days: sets[3]!, months: sets[4]!, daysOfWeek: sets[5]! };
}

/** The reason an expression is refused, or undefined. */
export function scheduleProblem(expression: string): string | undefined {
  try {
    parseSchedule(expression);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

function parseField(text: string, spec: FieldSpec): Set<number> {
  const out = new Set<number>();
  for (const item of text.split(",")) {
    const m = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d+))?$/i.exec(item);
    if (!m) throw new ScheduleError(`${spec.label} field "${text}" is not valid`);
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) throw new ScheduleError(`${spec.label} field "${text}": step must be at least 1`);
    let from: number, to: number;
    if (m[1] === "*") {
      [from, to] = [spec.min, spec.max];
    } else {
      const [a, b] = m[1]!.split("-");
      from = value(a!, spec, text);
      // `5/15` means "from 5 to the end, every 15", as in cron.
      to = b !== undefined ? value(b, spec, text) : m[2] !== undefined ? spec.max : from;
    }
    if (from > to) throw new ScheduleError(`${spec.label} field "${text}": range ${from}-${to} is reversed`);
    for (let v = from; v <= to; v += step) out.add(v);
  }
  return out;
}

function value(token: string, spec: FieldSpec, text: string): number {
  const named = spec.names?.indexOf(token.toLowerCase()) ?? -1;
  const n = named >= 0 ? named + (spec.nameBase ?? 0) : /^\d+$/.test(token) ? Number(token) : NaN;
  if (!Number.isInteger(n) || n < spec.min || n > spec.max) {
    throw new ScheduleError(`${spec.label} field "${text}": "${token}" is outside ${spec.min}-${spec.max}`);
  }
  return n;
}

const MINUTE = 60_000;
/** Far enough back for any schedule that fires at least once in a leap-year cycle. */
const SEARCH_LIMIT_MS = 5 * 366 * 24 * 3600_000;

/** The latest time at or before `now` that the schedule fires at; undefined if none in five years. */
export function previousOccurrence(schedule: Schedule, now: Date): Date | undefined {
  const floorSecond = Math.floor(now.getTime() / 1000) * 1000;
  let cursor = Math.floor(floorSecond / MINUTE) * MINUTE;
  let maxSecond = (floorSecond - cursor) / 1000;
  const limit = cursor - SEARCH_LIMIT_MS;
  while (cursor >= limit) {
    const d = new Date(cursor);
    const [year, month, day, hour] = [d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate(), d.getUTCHours()];
    if (!schedule.months.has(month + 1)) {
      cursor = Date.UTC(year, month, 1) - MINUTE; // last minute of the previous month
    } else if (!schedule.days.has(day) || !schedule.daysOfWeek.has(d.getUTCDay())) {
      cursor = Date.UTC(year, month, day) - MINUTE;
    } else if (!schedule.hours.has(hour)) {
      cursor = Date.UTC(year, month, day, hour) - MINUTE;
    } else {
      if (schedule.minutes.has(d.getUTCMinutes())) {
        let best = -1;
        for (const s of schedule.seconds) if (s <= maxSecond && s > best) best = s;
        if (best >= 0) return new Date(cursor + best * 1000);
      }
      cursor -= MINUTE;
    }
    maxSecond = 59;
  }
  return undefined;
}
