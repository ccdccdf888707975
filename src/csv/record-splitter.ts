/**
 * Splits decoded CSV text into records, honouring quotes, with a hard cap on record size.
 *
 * Why this exists in front of csv-parse: csv-parse's `max_record_size` together with
 * `skip_records_with_error` silently drops every record after the oversized one (checked against
 * csv-parse 7.0.3), and an unterminated quote swallows the rest of the file into one field. This
 * splitter decides where each record starts and ends, so that:
 * - a record larger than `maxRecordBytes` becomes one `malformed` record and the rest of the file is
 *   read normally (memory stays bounded by `maxRecordBytes`, whatever the line length);
 * - a quote that is never closed costs one physical line, not the rest of the file;
 * - record boundaries are a pure function of the text, so two passes over one file agree on them.
 *
 * Quote rules match csv-parse with `relax_quotes: true` (RFC 4180 plus tolerance): a `"` opens a
 * quoted field only at the start of a field; inside, `""` is a literal quote and a `"` followed by
 * anything else closes the quotes. Record terminators are CRLF, LF or a lone CR (old Mac exports).
 *
 * A quoted field is judged *runaway* (an unterminated quote that ran into later lines) when it
 * spans a line break and is then closed by a quote followed by neither the delimiter nor a line
 * end, e.g. `"Smith, John,j@x.com` followed on a later line by `"Doe, Jane",...`. Runaway fields,
 * oversized multi-line fields and quotes still open at end of file are cut at their first line
 * break: that line becomes a malformed record and scanning resumes on the next line.
 */

export type MalformedProblem = 'record_too_large' | 'unterminated_quote';

export type SplitRecord =
  /** `text` excludes the record terminator; an empty `text` is a blank line. */
  | { kind: 'record'; text: string; line: number }
  | {
      kind: 'malformed';
      problem: MalformedProblem;
      /** 1-based physical line where the record starts. */
      line: number;
      /** The record text; for `record_too_large` only its first PREVIEW_CHARS characters. */
      text: string;
      detail: string;
    };

const QUOTE = 0x22;
const CR = 0x0d;
const LF = 0x0a;
const PREVIEW_CHARS = 200;
/** The first quote or line break (see the shortcut in scan). */
const PLAIN_LINE_END = /["\r\n]/g;

function utf8Length(code: number): number {
  if (code < 0x80) return 1;
  if (code < 0x800) return 2;
  if (code >= 0xd800 && code <= 0xdfff) return 2; // one half of a surrogate pair: 4 octets per pair
  return 3;
}

export class CsvRecordSplitter {
  private readonly delimiter: number;
  private readonly maxRecordBytes: number;

  /** Unconsumed text, starting at the current record (or at a terminator to skip). */
  private buf = '';
  private pos = 0;
  private ended = false;
  /** Physical line number of buf[0]. */
  private line = 1;
  private linesInRecord = 0;
  private bytes = 0;
  private quoting = false;
  private fieldStart = true;
  /** Index in buf of the first line break inside the open quoted field, or -1. */
  private quoteBreakPos = -1;
  private linesBeforeQuoteBreak = 0;
  /** buf starts with a terminator that belongs to a record already emitted. */
  private skipTerminator = false;
  /** Dropping the rest of an oversized line. */
  private discarding: { line: number; preview: string; bytes: number } | null = null;

  /** See scan(); off only in the test that checks it changes nothing. */
  private readonly plainLineShortcut: boolean;

  constructor(delimiter: string, maxRecordBytes: number, options: { plainLineShortcut?: boolean } = {}) {
    if (delimiter.length !== 1) throw new RangeError('The CSV delimiter must be one character.');
    this.delimiter = delimiter.charCodeAt(0);
    this.maxRecordBytes = maxRecordBytes;
    this.plainLineShortcut = options.plainLineShortcut ?? true;
  }

  push(chunk: string): SplitRecord[] {
    const out: SplitRecord[] = [];
    if (this.discarding) chunk = this.discard(chunk, out);
    if (chunk !== '') {
      this.buf = this.buf === '' ? chunk : this.buf + chunk;
      this.scan(out);
    }
    return out;
  }

  end(): SplitRecord[] {
    const out: SplitRecord[] = [];
    this.ended = true;
    if (this.discarding) {
      this.emitDiscarded(out);
      return out;
    }
    for (;;) {
      this.scan(out);
      if (this.discarding) {
        this.emitDiscarded(out);
        return out;
      }
      if (this.quoting) {
        if (this.quoteBreakPos >= 0) {
          this.rewind(out, 'A quote opened on this line is never closed.');
          continue;
        }
        out.push(this.malformed('unterminated_quote', this.line, this.buf, 'A quote opened on this line is never closed.'));
      } else if (this.buf.length > 0 && !this.skipTerminator) {
        out.push({ kind: 'record', text: this.buf, line: this.line });
      }
      this.buf = '';
      return out;
    }
  }

  private malformed(problem: MalformedProblem, line: number, text: string, detail: string): SplitRecord {
    return { kind: 'malformed', problem, line, text, detail };
  }

  private scan(out: SplitRecord[]): void {
    const d = this.delimiter;
    let buf = this.buf;
    let pos = this.pos;
    while (pos < buf.length) {
      if (pos === 0 && this.plainLineShortcut && this.bytes === 0 && !this.quoting && !this.skipTerminator) {
        // Shortcut for the usual record, one line without any quote: it ends at the first line
        // break, whatever its cells are, so one native search finds it instead of a loop over every
        // character (the loop was the largest cost of a pass). At most 3 octets per UTF-16 unit, so
        // a line this short cannot exceed the size cap. Anything else goes through the loop below.
        PLAIN_LINE_END.lastIndex = 0;
        const found = PLAIN_LINE_END.exec(buf);
        const at = found === null ? -1 : found.index;
        if (at >= 0 && buf.charCodeAt(at) !== QUOTE && at * 3 <= this.maxRecordBytes) {
          const len = this.terminatorLength(buf, at);
          if (len === -1) break;
          out.push({ kind: 'record', text: buf.slice(0, at), line: this.line });
          buf = buf.slice(at + len);
          this.line += 1;
          continue;
        }
      }
      const c = buf.charCodeAt(pos);
      if (this.skipTerminator) {
        // buf starts with the terminator of a record we already emitted (after a rewind or a discard).
        const len = this.terminatorLength(buf, pos);
        if (len === -1) break;
        buf = buf.slice(pos + len);
        pos = 0;
        this.line += this.linesInRecord + 1;
        this.linesInRecord = 0;
        this.skipTerminator = false;
        continue;
      }
      if (this.quoting) {
        if (c === QUOTE) {
          if (pos + 1 >= buf.length && !this.ended) break; // need the next char to decide
          const next = pos + 1 < buf.length ? buf.charCodeAt(pos + 1) : -1;
          if (next === QUOTE) {
            pos += 2;
            this.bytes += 2;
          } else {
            if (this.quoteBreakPos >= 0 && next !== -1 && next !== d && next !== CR && next !== LF) {
              this.buf = buf;
              this.pos = pos;
              this.rewind(out, 'A quote opened on this line is not closed before the line ends.');
              buf = this.buf;
              pos = this.pos;
              continue;
            }
            this.quoting = false;
            pos += 1;
            this.bytes += 1;
          }
        } else {
          if (c === CR || c === LF) {
            if (c === CR && pos + 1 >= buf.length && !this.ended) break;
            if (this.quoteBreakPos < 0) {
              this.quoteBreakPos = pos;
              this.linesBeforeQuoteBreak = this.linesInRecord;
            }
            if (c === LF || buf.charCodeAt(pos + 1) !== LF) this.linesInRecord++;
          }
          this.bytes += utf8Length(c);
          pos += 1;
        }
      } else if (c === CR || c === LF) {
        const len = this.terminatorLength(buf, pos);
        if (len === -1) break;
        out.push({ kind: 'record', text: buf.slice(0, pos), line: this.line });
        buf = buf.slice(pos + len);
        pos = 0;
        this.line += this.linesInRecord + 1;
        this.resetRecord();
        continue;
      } else {
        if (c === d) this.fieldStart = true;
        else if (c === QUOTE && this.fieldStart) {
          this.quoting = true;
          this.quoteBreakPos = -1;
          this.fieldStart = false;
        } else this.fieldStart = false;
        this.bytes += utf8Length(c);
        pos += 1;
      }
      if (this.bytes > this.maxRecordBytes) {
        this.buf = buf;
        this.pos = pos;
        if (this.quoting && this.quoteBreakPos >= 0) {
          this.rewind(out, `A quote opened on this line is not closed within ${this.maxRecordBytes} bytes.`);
          buf = this.buf;
          pos = this.pos;
          continue;
        }
        // A genuinely huge line: keep a preview, drop the rest up to the next line break.
        this.discarding = { line: this.line, preview: buf.slice(0, PREVIEW_CHARS), bytes: this.bytes };
        const rest = buf.slice(pos);
        this.buf = '';
        this.pos = 0;
        const remaining = this.discard(rest, out);
        if (remaining === '') return;
        buf = remaining;
        pos = 0;
        this.buf = buf;
      }
    }
    this.buf = buf;
    this.pos = pos;
  }

  /** Length of the terminator at pos (1 or 2), or -1 when a CR ends the buffer and more may come. */
  private terminatorLength(buf: string, pos: number): number {
    if (buf.charCodeAt(pos) === LF) return 1;
    if (pos + 1 >= buf.length) return this.ended ? 1 : -1;
    return buf.charCodeAt(pos + 1) === LF ? 2 : 1;
  }

  /** Cut the record at the first line break of its open quoted field; rescan what follows. */
  private rewind(out: SplitRecord[], detail: string): void {
    const cut = this.quoteBreakPos;
    out.push(this.malformed('unterminated_quote', this.line, this.buf.slice(0, cut), detail));
    this.buf = this.buf.slice(cut);
    this.resetRecord();
    this.linesInRecord = this.linesBeforeQuoteBreak;
    this.skipTerminator = true;
  }

  private resetRecord(): void {
    this.pos = 0;
    this.bytes = 0;
    this.quoting = false;
    this.fieldStart = true;
    this.quoteBreakPos = -1;
    this.linesInRecord = 0;
  }

  /** Drop text up to the next line break; returns what follows (starting at the break), or ''. */
  private discard(chunk: string, out: SplitRecord[]): string {
    const state = this.discarding;
    if (!state) return chunk;
    let i = 0;
    for (; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      if (c === CR || c === LF) break;
      state.bytes += utf8Length(c);
    }
    if (i === chunk.length) return '';
    this.emitDiscarded(out);
    this.skipTerminator = true;
    return chunk.slice(i);
  }

  private emitDiscarded(out: SplitRecord[]): void {
    const state = this.discarding;
    if (!state) return;
    out.push(
      this.malformed(
        'record_too_large',
        state.line,
        state.preview,
        `This record is ${state.bytes} bytes or more, above the limit of ${this.maxRecordBytes} bytes; it was skipped. A wrong delimiter or a stray quote can cause this.`,
      ),
    );
    this.discarding = null;
    this.bytes = 0;
    this.quoting = false;
    this.fieldStart = true;
    this.quoteBreakPos = -1;
  }
}
