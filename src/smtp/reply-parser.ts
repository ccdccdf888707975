/**
 * Incremental SMTP reply parser (RFC 5321 §4.2). Pure: bytes in, complete replies out. It never
 * touches a socket, so it can be tested byte by byte.
 *
 * A reply is one or more lines `NNN-text` ending with `NNN text` or a bare `NNN` (§4.2.1). This is
 * where server bytes enter the program, so hostile input is rejected here, once (STYLE.md):
 * overlong lines, too many lines in one reply and lines that are not SMTP replies all throw
 * HygieneError('SMTP_PROTOCOL'). After a throw the parser stays failed: every later push throws.
 */
import type { SmtpReply } from '../domain/smtp-reply.ts';
import { HygieneError } from '../errors.ts';

export interface ReplyParserOptions {
  /** Longest accepted line in bytes, line ending excluded. Default 4096 (RFC 5321 §4.5.3.1.5 says 512). */
  maxLineBytes?: number;
  /** Most lines accepted in one multi-line reply. Default 200. */
  maxLinesPerReply?: number;
}

export const DEFAULT_MAX_LINE_BYTES = 4096;
export const DEFAULT_MAX_LINES_PER_REPLY = 200;

const LF = 0x0a;
/** Basic code (first digit 2–5, RFC 5321 §4.2.1), then a separator or the end of the line. */
const REPLY_LINE = /^([2-5][0-9][0-9])(?:([ -])(.*))?$/s;
/** RFC 3463 §2: class.subject.detail, subject and detail 1–3 digits, followed by space or end. */
const ENHANCED = /^([245])\.([0-9]{1,3})\.([0-9]{1,3})(?: +|$)/;

export class ReplyParser {
  private readonly maxLineBytes: number;
  private readonly maxLinesPerReply: number;
  /** Bytes received after the last LF. */
  private remainder: Buffer = Buffer.alloc(0);
  /** Lines of the reply being assembled (continuation lines seen so far), as sent. */
  private current: Array<{ code: number; text: string; line: string }> = [];
  private failure: HygieneError | undefined;

  constructor(options: ReplyParserOptions = {}) {
    this.maxLineBytes = options.maxLineBytes ?? DEFAULT_MAX_LINE_BYTES;
    this.maxLinesPerReply = options.maxLinesPerReply ?? DEFAULT_MAX_LINES_PER_REPLY;
  }

  /** True while part of a reply (a partial line or continuation lines) is waiting for more bytes. */
  get hasPartial(): boolean {
    return this.remainder.length > 0 || this.current.length > 0;
  }

  /** Forget everything buffered. Used when the connection upgrades to TLS (RFC 3207 §6). */
  reset(): void {
    this.remainder = Buffer.alloc(0);
    this.current = [];
  }

  /** Feed bytes; returns the replies completed by them, in order. Throws HygieneError('SMTP_PROTOCOL'). */
  push(chunk: string | Buffer): SmtpReply[] {
    if (this.failure) throw this.failure;
    try {
      return this.consume(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
    } catch (err) {
      this.failure = err instanceof HygieneError ? err : new HygieneError('SMTP_PROTOCOL', String(err));
      this.reset();
      throw this.failure;
    }
  }

  private consume(chunk: Buffer): SmtpReply[] {
    const replies: SmtpReply[] = [];
    let data = this.remainder.length > 0 ? Buffer.concat([this.remainder, chunk]) : chunk;
    let start = 0;
    for (;;) {
      const lf = data.indexOf(LF, start);
      if (lf < 0) break;
      let end = lf;
      if (end > start && data[end - 1] === 0x0d) end -= 1;
      if (end - start > this.maxLineBytes) throw this.overlong();
      const reply = this.acceptLine(data.toString('utf8', start, end));
      if (reply) replies.push(reply);
      start = lf + 1;
    }
    data = data.subarray(start);
    // A line still without its LF: refuse to buffer more than the limit (+1 for a trailing CR).
    if (data.length > this.maxLineBytes + 1) throw this.overlong();
    // Copy so a small remainder does not pin the caller's (possibly large) chunk in memory.
    this.remainder = Buffer.from(data);
    return replies;
  }

  private acceptLine(line: string): SmtpReply | undefined {
    const match = REPLY_LINE.exec(line);
    if (!match) {
      throw new HygieneError('SMTP_PROTOCOL', `The mail server sent a line that is not an SMTP reply: ${printable(line)}`, {
        line: printable(line),
      });
    }
    const code = Number(match[1]);
    const first = this.current[0];
    if (first && first.code !== code) {
      throw new HygieneError(
        'SMTP_PROTOCOL',
        `The mail server changed the reply code inside one multi-line reply (${first.code} then ${code}).`,
        { line: printable(line) },
      );
    }
    if (this.current.length >= this.maxLinesPerReply) {
      throw new HygieneError('SMTP_PROTOCOL', `The mail server sent more than ${this.maxLinesPerReply} lines in one reply.`, {
        limit: this.maxLinesPerReply,
      });
    }
    this.current.push({ code, text: match[3] ?? '', line });
    if (match[2] === '-') return undefined;
    const reply = buildReply(code, this.current);
    this.current = [];
    return reply;
  }

  private overlong(): HygieneError {
    return new HygieneError('SMTP_PROTOCOL', `The mail server sent a line longer than ${this.maxLineBytes} bytes.`, {
      limit: this.maxLineBytes,
    });
  }
}

export function createReplyParser(options: ReplyParserOptions = {}): ReplyParser {
  return new ReplyParser(options);
}

function buildReply(code: number, parts: ReadonlyArray<{ text: string; line: string }>): SmtpReply {
  const codeClass = String(code)[0];
  let enhanced: string | undefined;
  const lines = parts.map((part, index) => {
    const m = ENHANCED.exec(part.text);
    // RFC 3463 §2: the class digit must match the basic code's; otherwise it is just text.
    if (!m || m[1] !== codeClass) return part.text;
    const found = `${m[1]}.${Number(m[2])}.${Number(m[3])}`;
    if (index === 0) enhanced = found;
    // Servers repeat the code on every line (Gmail); strip it only where it matches the first one.
    if (enhanced !== found) return part.text;
    return part.text.slice(m[0].length);
  });
  const reply: SmtpReply = { code, lines, raw: parts.map((p) => p.line).join('\n') };
  if (enhanced !== undefined) reply.enhanced = enhanced;
  return reply;
}

/** Escape control characters so a hostile line cannot forge log or report lines. */
function printable(text: string): string {
  const clipped = text.length > 120 ? `${text.slice(0, 120)}…` : text;
  // eslint-disable-next-line no-control-regex
  return clipped.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
