/** Parsing of schedule options as typed on the command line or sent to the API. Pure. */
import { HygieneError } from '../errors.ts';

const UNITS: Record<string, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 };

/** "7d", "12h", "30m", "90s", "500ms", "2w" -> milliseconds. A bare number is milliseconds. */
export function parseDuration(text: string, what: string): number {
  const m = /^\s*(\d+)\s*(ms|s|m|h|d|w)?\s*$/i.exec(text);
  if (!m) throw new HygieneError('USAGE', `${what} must be a duration like 7d, 12h, 30m or 90s, got "${text}"`);
  const value = Number(m[1]) * (UNITS[(m[2] ?? 'ms').toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(value)) throw new HygieneError('USAGE', `${what} is too long: "${text}"`);
  return value;
}

export function formatDuration(ms: number): string {
  for (const unit of ['w', 'd', 'h', 'm', 's'] as const) {
    const size = UNITS[unit]!;
    if (ms >= size && ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** Throws USAGE unless `tz` is an IANA time zone this Node knows. */
export function checkTimeZone(tz: string): string {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz });
    return tz;
  } catch {
    throw new HygieneError('USAGE', `--tz must be an IANA time zone such as Europe/Berlin or UTC, got "${tz}"`);
  }
}

/** Five or six space-separated cron fields of the characters cron-parser accepts (checked fully by BullMQ). */
export function checkCronPattern(pattern: string): string {
  const fields = pattern.trim().split(/\s+/);
  if (fields.length < 5 || fields.length > 6 || fields.some((f) => !/^[\d*/,\-?LW#A-Za-z]+$/.test(f))) {
    throw new HygieneError('USAGE', `--cron must be a cron pattern like "0 3 * * 1" (minute hour day month weekday), got "${pattern}"`);
  }
  return fields.join(' ');
}
