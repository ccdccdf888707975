/**
 * Progress on stderr while a list runs: one rewritten line on a TTY; otherwise a plain (or JSON,
 * with --json) line every few seconds, so logs of scheduled runs stay readable.
 *
 * While addresses wait (a greylisting retry, an MX paused because it slowed us down), the line says
 * what for and until when instead of an ETA that would only climb. With --json the last line is a
 * final event: `{"progress":"done", ..., "outputs":{cleaned, rejected, report, html}}` or, for a run
 * that failed after it printed progress, `{"progress":"failed", "code", "error"}`.
 */
import type { ListReport } from '../collector/report.ts';
import type { ListRecord, ListWait } from '../queue/list-store.ts';
import { describeWaits, summariseWaits, type WaitSummary } from './waiting-text.ts';

export interface ProgressPrinter {
  rowsRead(rows: number): void;
  list(list: ListRecord): void;
  /** The final event: the run is done and these are its files (`html` when the HTML report was written). */
  finished(report: ListReport, html: string | undefined): void;
  /** The final event of a run that failed. */
  failed(err: unknown): void;
  done(): void;
}

export interface ProgressOptions {
  /** Every plain/JSON line at most this often (ms). Default 5 s. */
  intervalMs?: number;
  /** What the list's delayed jobs wait for (ListStore.waiting); read at most once a second while verifying. */
  readWaits?: () => Promise<ListWait[]>;
  now?: () => number;
}

const WAITS_REFRESH_MS = 1_000;

export function createProgressPrinter(stream: NodeJS.WriteStream, json: boolean, options: ProgressOptions = {}): ProgressPrinter {
  const intervalMs = options.intervalMs ?? 5_000;
  const now = options.now ?? Date.now;
  const tty = stream.isTTY === true && !json;
  const started = now();
  let lastPrint = 0;
  let lastLine = '';
  let finalSent = false;
  let waits: WaitSummary[] = [];
  let waitsReadAt = 0;
  let waitsReading = false;

  const emit = (phase: string, fields: Record<string, unknown>, text: string, force = false) => {
    const at = now();
    if (tty) {
      if (at - lastPrint < 100 && !force) return;
      lastPrint = at;
      stream.write(`\r\x1b[2K${text}`);
      lastLine = text;
      return;
    }
    if (at - lastPrint < intervalMs && !force) return;
    lastPrint = at;
    stream.write(json ? `${JSON.stringify({ progress: phase, ...fields, elapsedMs: at - started })}\n` : `progress: ${text}\n`);
  };

  /** Starts a read of the waits when the last one is old enough; the line uses the latest answer. */
  const refreshWaits = () => {
    if (!options.readWaits || waitsReading || now() - waitsReadAt < WAITS_REFRESH_MS) return;
    waitsReading = true;
    options.readWaits().then(
      (read) => {
        waits = summariseWaits(read);
        waitsReadAt = now();
        waitsReading = false;
      },
      () => {
        // Progress is for show: a failed read keeps the last answer, and the run's own Redis errors surface elsewhere.
        waitsReadAt = now();
        waitsReading = false;
      },
    );
  };

  const endLine = () => {
    if (tty && lastLine) stream.write('\n');
    lastLine = '';
  };

  return {
    rowsRead(rows) {
      emit('reading', { rows }, `reading rows: ${rows.toLocaleString('en-US')}`);
    },
    list(list) {
      if (list.state === 'verifying') refreshWaits();
      else waits = [];
      const elapsed = (now() - started) / 1000;
      const total = list.uniqueAddresses;
      const done = list.verified;
      const rate = elapsed > 0 ? done / elapsed : 0;
      const pct = total > 0 ? Math.floor((100 * done) / total) : 100;
      const waiting = waits.length > 0 ? describeWaits(waits, now()) : [];
      // An ETA from the rate so far only climbs while addresses wait: say what they wait for instead.
      const eta = waiting.length === 0 && rate > 0 && total > done ? Math.round((total - done) / rate) : 0;
      const fields: Record<string, unknown> = { verified: done, total, percent: pct, perSecond: Math.round(rate) };
      if (waiting.length > 0) fields.waiting = waits.map((w) => ({ ...w, dueAt: new Date(w.dueAt).toISOString() }));
      const head = `${list.state}: ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} addresses (${pct}%), ${rate.toFixed(1)}/s`;
      emit(list.state, fields, waiting.length > 0 ? `${head}; ${waiting.join('; ')}` : `${head}${eta ? `, ETA ${eta}s` : ''}`);
    },
    finished(report, html) {
      if (finalSent) return;
      finalSent = true;
      endLine();
      const outputs = { ...report.outputs, ...(html ? { html } : {}) };
      const fields = { listId: report.listId, rows: report.rows, cleanedRows: report.cleanedRows, rejectedRows: report.rejectedRows, outputs };
      if (json) emit('done', fields, '', true);
      else if (!tty) emit('done', fields, `done: ${report.rows.toLocaleString('en-US')} rows, ${report.cleanedRows.toLocaleString('en-US')} cleaned, ${report.rejectedRows.toLocaleString('en-US')} rejected`, true);
    },
    failed(err) {
      if (finalSent) return;
      finalSent = true;
      endLine();
      // Only a run that printed progress needs its end said: a file refused before any row was read
      // is one error line on stderr, nothing else.
      const code = (err as { code?: unknown })?.code;
      if (json && lastPrint > 0) emit('failed', { ...(typeof code === 'string' ? { code } : {}), error: err instanceof Error ? err.message : String(err) }, '', true);
    },
    done() {
      endLine();
    },
  };
}
