/** Shared pieces of `npm run bench`: Redis prefix cleanup, CSV writing, timing, the result table. */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { createRedisClient } from '../../src/app/redis-connection.ts';

export const REDIS_URL = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';

export function freshPrefix(what: string): string {
  return `bench-${what}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
}

/** Deletes every key of a prefix (the runtime's and BullMQ's keys all start with it). */
export async function dropPrefix(prefix: string): Promise<void> {
  const redis = createRedisClient(REDIS_URL, 'hygiene-bench-cleanup');
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 5000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

/** Writes rows through a stream with backpressure. */
export async function writeLines(file: string, lines: Iterable<string>): Promise<void> {
  const out = createWriteStream(file);
  for (const line of lines) {
    if (!out.write(line)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

export interface Figure {
  section: string;
  figure: string;
  value: string;
  target: string;
  /** null = informational, no target. */
  pass: boolean | null;
}

export function fmt(n: number, digits = 1): string {
  if (!Number.isFinite(n)) return String(n);
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function renderTable(figures: Figure[]): string {
  const header = ['Benchmark', 'Figure', 'Value', 'Target', 'Result'];
  const rows = figures.map((f) => [f.section, f.figure, f.value, f.target || '—', f.pass === null ? '' : f.pass ? 'pass' : 'FAIL']);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...rows.map(line)].join('\n');
}
