/**
 * Looks at the first 64 KiB of an input file and decides how to read it: refuses empty and binary
 * files with a message that says what to do, detects the encoding, the delimiter and the line ending.
 *
 * Encoding: a UTF-8 or UTF-16 BOM wins; UTF-16 without a BOM is recognised by its pattern of NUL
 * bytes; otherwise the sample must be valid UTF-8, else the file is read as Windows-1252 (what
 * Excel on Windows writes for "CSV" in Western locales). Only the sample is checked: an invalid
 * UTF-8 sequence later in a file judged UTF-8 is decoded as U+FFFD.
 */
import { open } from 'node:fs/promises';
import { HygieneError } from '../errors.ts';
import { CsvRecordSplitter } from './record-splitter.ts';

export type InputEncoding = 'utf-8' | 'utf-16le' | 'utf-16be' | 'windows-1252';

export interface SniffedInput {
  encoding: InputEncoding;
  /** True when the file starts with a byte order mark (it is stripped when reading). */
  bom: boolean;
  /** One of `,` `;` `\t` `|`. */
  delimiter: string;
  /** The first line ending found outside quotes; '\n' when there is none (a lone CR counts as '\r\n'). */
  lineEnding: '\r\n' | '\n';
  /**
   * Excel's `sep=;` first line, when present: it names the delimiter and is not a record. Readers skip
   * it; writers put it back at the top so the outputs open in Excel the same way.
   */
  preamble?: string;
}

/** Excel's delimiter hint line ("sep=;"), the whole first line. */
const SEP_LINE = /^sep=([^\r\n])\r?(?:\n|$)/i;

export const SNIFF_BYTES = 64 * 1024;
export const DELIMITER_CANDIDATES = [',', ';', '\t', '|'] as const;
/** Records looked at for delimiter detection. */
const SNIFF_RECORDS = 50;
/** Share of control bytes (other than TAB, CR, LF, FF) above which a file is judged binary. */
const MAX_CONTROL_RATIO = 0.05;

export async function sniffInput(path: string): Promise<SniffedInput> {
  const sample = await readSample(path);
  return sniffSample(sample, path);
}

async function readSample(path: string): Promise<Buffer> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch (err) {
    throw fileError(err, path);
  }
  try {
    const buffer = Buffer.alloc(SNIFF_BYTES);
    let length = 0;
    while (length < SNIFF_BYTES) {
      const { bytesRead } = await handle.read(buffer, length, SNIFF_BYTES - length, length);
      if (bytesRead === 0) break;
      length += bytesRead;
    }
    return buffer.subarray(0, length);
  } catch (err) {
    throw fileError(err, path);
  } finally {
    await handle.close();
  }
}

/** Maps a file-system error to INPUT_NOT_FOUND or INPUT_UNREADABLE. Shared with the row stream. */
export function fileError(err: unknown, path: string): HygieneError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ENOENT') {
    return new HygieneError('INPUT_NOT_FOUND', `The input file ${path} does not exist.`, { path }, { cause: err });
  }
  const why = code === 'EISDIR' ? 'it is a directory' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : String(code ?? err);
  return new HygieneError('INPUT_UNREADABLE', `The input file ${path} cannot be read (${why}).`, { path, errno: code }, { cause: err });
}

/** Pure part of sniffInput: judges a sample (the first bytes of the file). */
export function sniffSample(sample: Buffer, path = 'input'): SniffedInput {
  if (sample.length === 0) {
    throw new HygieneError('INPUT_EMPTY', `The input file ${path} is empty.`, { path });
  }
  rejectKnownBinary(sample, path);
  const { encoding, bom } = detectEncoding(sample, path);
  const text = new TextDecoder(encoding).decode(sample, { stream: true });
  if (text.trim() === '') {
    throw new HygieneError('INPUT_EMPTY', `The input file ${path} has no content, only blank space.`, { path });
  }
  if (encoding === 'utf-8' || encoding === 'windows-1252') rejectControlHeavy(sample, path);
  const truncated = sample.length === SNIFF_BYTES;
  const sep = SEP_LINE.exec(text.replace(/^\ufeff/, ''));
  if (sep) {
    const rest = text.replace(/^\ufeff/, '').slice(sep[0].length);
    return { encoding, bom, delimiter: sep[1]!, lineEnding: detectLineEnding(rest || text), preamble: `sep=${sep[1]!}` };
  }
  return { encoding, bom, delimiter: detectDelimiter(text, truncated), lineEnding: detectLineEnding(text) };
}

function startsWith(sample: Buffer, bytes: number[]): boolean {
  return bytes.every((b, i) => sample[i] === b);
}

function rejectKnownBinary(sample: Buffer, path: string): void {
  const binary = (what: string): never => {
    throw new HygieneError('INPUT_BINARY', `The input file ${path} ${what}`, { path });
  };
  if (startsWith(sample, [0x50, 0x4b, 0x03, 0x04]) || startsWith(sample, [0x50, 0x4b, 0x05, 0x06])) {
    const head = sample.toString('latin1');
    if (head.includes('xl/') || head.includes('[Content_Types].xml')) {
      binary('looks like an Excel workbook (.xlsx), which is a zip file; open it in Excel and save or export it as CSV.');
    }
    binary('looks like an Excel/zip file; unzip it, or export it as CSV.');
  }
  if (startsWith(sample, [0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])) {
    binary('looks like an old Excel workbook (.xls); open it in Excel and export it as CSV.');
  }
  if (startsWith(sample, [0x1f, 0x8b])) binary('is gzip-compressed; decompress it first (gunzip) and give the CSV file.');
  if (startsWith(sample, [0x25, 0x50, 0x44, 0x46])) binary('is a PDF document, not a CSV file.');
  if (startsWith(sample, [0x42, 0x5a, 0x68]) || startsWith(sample, [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00])) {
    binary('is compressed (bzip2/xz); decompress it first and give the CSV file.');
  }
}

function detectEncoding(sample: Buffer, path: string): { encoding: InputEncoding; bom: boolean } {
  if (startsWith(sample, [0xef, 0xbb, 0xbf])) return { encoding: 'utf-8', bom: true };
  if (startsWith(sample, [0xff, 0xfe])) return { encoding: 'utf-16le', bom: true };
  if (startsWith(sample, [0xfe, 0xff])) return { encoding: 'utf-16be', bom: true };
  if (sample.includes(0)) {
    const bomless = bomlessUtf16(sample);
    if (bomless) return { encoding: bomless, bom: false };
    throw new HygieneError(
      'INPUT_BINARY',
      `The input file ${path} contains NUL bytes, so it is not a text CSV file. If it is an export, save it again as "CSV UTF-8".`,
      { path },
    );
  }
  try {
    // stream: true so that a multi-byte character cut by the end of the sample is not an error.
    new TextDecoder('utf-8', { fatal: true }).decode(sample, { stream: true });
    return { encoding: 'utf-8', bom: false };
  } catch {
    return { encoding: 'windows-1252', bom: false };
  }
}

/** UTF-16 text of mostly ASCII characters has a NUL in every other byte. */
function bomlessUtf16(sample: Buffer): 'utf-16le' | 'utf-16be' | null {
  const pairs = Math.floor(sample.length / 2);
  if (pairs < 2) return null;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (sample[i] === 0) evenZero++;
    if (sample[i + 1] === 0) oddZero++;
  }
  if (oddZero / pairs > 0.9 && evenZero / pairs < 0.05) return 'utf-16le';
  if (evenZero / pairs > 0.9 && oddZero / pairs < 0.05) return 'utf-16be';
  return null;
}

function rejectControlHeavy(sample: Buffer, path: string): void {
  let control = 0;
  for (const byte of sample) {
    if ((byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) || byte === 0x7f) control++;
  }
  if (control / sample.length > MAX_CONTROL_RATIO) {
    throw new HygieneError(
      'INPUT_BINARY',
      `The input file ${path} looks binary (${control} control bytes in the first ${sample.length}); it is not a CSV text file.`,
      { path },
    );
  }
}

/**
 * Picks the candidate whose records have the most consistent field count (of at least 2 fields),
 * counting fields with the same quote rules as the reader. Ties go to more fields, then to the
 * order of DELIMITER_CANDIDATES. A file with one column gets ','.
 */
export function detectDelimiter(text: string, truncated = false): string {
  let best = { delimiter: ',', consistency: 0, fields: 1 };
  for (const delimiter of DELIMITER_CANDIDATES) {
    const counts = fieldCounts(text, delimiter, truncated);
    if (counts.length === 0) continue;
    const tally = new Map<number, number>();
    for (const n of counts) tally.set(n, (tally.get(n) ?? 0) + 1);
    let mode = 1;
    let modeCount = 0;
    for (const [n, c] of tally) {
      if (c > modeCount || (c === modeCount && n > mode)) {
        mode = n;
        modeCount = c;
      }
    }
    if (mode < 2) continue;
    const consistency = modeCount / counts.length;
    if (consistency > best.consistency || (consistency === best.consistency && mode > best.fields)) {
      best = { delimiter, consistency, fields: mode };
    }
  }
  return best.delimiter;
}

function fieldCounts(text: string, delimiter: string, truncated: boolean): number[] {
  const splitter = new CsvRecordSplitter(delimiter, SNIFF_BYTES * 4);
  const records = splitter.push(text);
  // The last record of a truncated sample may be cut short: ignore it.
  if (!truncated) records.push(...splitter.end());
  const counts: number[] = [];
  for (const record of records) {
    if (record.kind !== 'record' || record.text === '') continue;
    counts.push(countFields(record.text, delimiter));
    if (counts.length >= SNIFF_RECORDS) break;
  }
  return counts;
}

/** Field count of one record's text (quotes already balanced by the splitter). */
export function countFields(text: string, delimiter: string): number {
  let fields = 1;
  let quoting = false;
  let fieldStart = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoting) {
      if (ch === '"') {
        if (text[i + 1] === '"') i++;
        else quoting = false;
      }
    } else if (ch === delimiter) {
      fields++;
      fieldStart = true;
    } else {
      quoting = ch === '"' && fieldStart;
      fieldStart = false;
    }
  }
  return fields;
}

function detectLineEnding(text: string): '\r\n' | '\n' {
  let quoting = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '"') quoting = !quoting;
    else if (!quoting && ch === '\n') return '\n';
    else if (!quoting && ch === '\r') return '\r\n';
  }
  return '\n';
}
