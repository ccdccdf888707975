/**
 * What a list is waiting for, in words (progress and `hygiene status`): "2 addresses greylisted, next
 * try at 21:33:05 (in 4m 10s)", "mx.example.test paused (rate limit) until 21:40:00: 14 addresses
 * wait". Pure: the delayed jobs' waits (ListWait, recorded by the verify processor) in, lines out.
 */
import type { ListWait } from '../queue/list-store.ts';

/** The waits summed up: retries by reason, pauses by MX host; each with its earliest due time. */
export interface WaitSummary {
  kind: ListWait['kind'];
  /** The reason the addresses would get now (greylisted, throttled, connection_failed, smtp_error...). */
  reason: string;
  /** Pauses: the paused MX host. */
  mx?: string;
  addresses: number;
  /** Earliest due time (ms since epoch). */
  dueAt: number;
}

export function summariseWaits(waits: readonly ListWait[]): WaitSummary[] {
  const byKey = new Map<string, WaitSummary>();
  for (const wait of waits) {
    for (const group of wait.groups) {
      const mx = wait.kind === 'paused' ? group.mx : undefined;
      const key = `${wait.kind}\u0000${wait.kind === 'paused' ? (mx ?? '') : group.reason}`;
      const summary = byKey.get(key);
      if (summary) {
        summary.addresses += group.addresses;
        summary.dueAt = Math.min(summary.dueAt, wait.dueAt);
      } else byKey.set(key, { kind: wait.kind, reason: group.reason, ...(mx ? { mx } : {}), addresses: group.addresses, dueAt: wait.dueAt });
    }
  }
  // Soonest first: what happens next leads.
  return [...byKey.values()].sort((a, b) => a.dueAt - b.dueAt);
}

const plural = (n: number, word: string) => `${n.toLocaleString('en-US')} ${word}${n === 1 ? '' : 'es'}`;

/** Local wall-clock time, HH:MM:SS. */
export function clockTime(ms: number): string {
  return new Date(ms).toTimeString().slice(0, 8);
}

function inAbout(ms: number): string {
  const s = Math.ceil(ms / 1000);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  return m < 60 ? `${m}m ${String(s % 60).padStart(2, '0')}s` : `${Math.floor(m / 60)}h ${String(m % 60).padStart(2, '0')}m`;
}

function retryWords(reason: string): string {
  if (reason === 'greylisted') return 'greylisted';
  if (reason === 'connection_failed') return 'waiting for a busy server';
  return `told to try again later (${reason})`;
}

/** One line per summary; `now` decides "next try at" or "retrying now". */
export function describeWaits(summaries: readonly WaitSummary[], now: number): string[] {
  return summaries.map((w) => {
    const when = w.dueAt > now ? `${clockTime(w.dueAt)} (in ${inAbout(w.dueAt - now)})` : null;
    if (w.kind === 'paused') {
      const why = w.reason === 'throttled' ? 'rate limit' : 'busy';
      return when ? `${w.mx ?? 'an MX'} paused (${why}) until ${when}: ${plural(w.addresses, 'address')} wait` : `${w.mx ?? 'an MX'} pause over (${why}): ${plural(w.addresses, 'address')} being asked again`;
    }
    return `${plural(w.addresses, 'address')} ${retryWords(w.reason)}, ${when ? `next try at ${when}` : 'retrying now'}`;
  });
}
