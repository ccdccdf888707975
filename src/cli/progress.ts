/**
 * Progress on stderr while a list runs: one rewritten line on a TTY; otherwise a plain (or JSON,
 * with --json) line every few seconds, so logs of scheduled runs stay readable.
 */
import type { ListRecord } from '../queue/list-store.ts';

export interface ProgressPrinter {
  rowsRead(rows: number): void;
  list(list: ListRecord): void;
  done(): void;
}

export function createProgressPrinter(stream: NodeJS.WriteStream, json: boolean, intervalMs = 5_000): ProgressPrinter {
  const tty = stream.isTTY === true && !json;
  const started = Date.now();
  let lastPrint = 0;
  let lastLine = '';
  const emit = (phase: string, fields: Record<string, number | string>, text: string, force = false) => {
    const now = Date.now();
    if (tty) {
      if (now - lastPrint < 100 && !force) return;
      lastPrint = now;
      stream.write(`\r\x1b[2K${text}`);
      lastLine = text;
      return;
    }
    if (now - lastPrint < intervalMs && !force) return;
    lastPrint = now;
    stream.write(json ? `${JSON.stringify({ progress: phase, ...fields, elapsedMs: now - started })}\n` : `progress: ${text}\n`);
  };
  return {
    rowsRead(rows) {
      emit('reading', { rows }, `reading rows: ${rows.toLocaleString('en-US')}`);
    },
    list(list) {
      const elapsed = (Date.now() - started) / 1000;
      const total = list.uniqueAddresses;
      const done = list.verified;
      const rate = elapsed > 0 ? done / elapsed : 0;
      const eta = rate > 0 && total > done ? Math.round((total - done) / rate) : 0;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
      emit(
        list.state,
        { verified: done, total, percent: pct, perSecond: Math.round(rate) },
        `${list.state}: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} addresses (${pct}%), ${rate.toFixed(1)}/s${eta ? `, ETA ${eta}s` : ''}`,
      );
    },
    done() {
      if (tty && lastLine) stream.write('\n');
    },
  };
}
