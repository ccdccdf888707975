/**
 * `hygiene bounces FILE...`: streams mail logs (plain or gzipped) and DSN bounce messages, and
 * records hard bounces on the suppression list (with date, file:line and the log line) and soft
 * bounces as counts. Files are read line by line, so a multi-GB log costs little memory; a DSN
 * message file (or mbox) is read whole, up to MAX_MESSAGE_BYTES.
 *
 * Format detection per file: gzip by its magic bytes (1f 8b), then a file whose first line is an
 * mbox "From " line or a mail header ("Name: value") is a message; anything else is a log.
 */
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { parseEmailAddress } from '../domain/email-address.ts';
import { HygieneError } from '../errors.ts';
import { cleanText, type BounceEvent } from './bounce-event.ts';
import { parseDsnMessages } from './dsn-parser.ts';
import { parseMailLogLine } from './mail-log-parser.ts';
import type { SuppressionEntry, SuppressionStore } from './suppression-store.ts';

/** A bounce message bigger than this is not a bounce we want to read whole. */
export const MAX_MESSAGE_BYTES = 25 * 1024 * 1024;
const BATCH = 500;

export interface BounceFileSummary {
  file: string;
  format: 'log' | 'dsn';
  gzip: boolean;
  lines: number;
  hard: number;
  soft: number;
  /** Permanent failures not about the address (policy blocks, mailbox full...): not suppressed. */
  other: number;
  /** Bounce records whose recipient is not a valid address. */
  invalidRecipients: number;
}

export interface BounceImportSummary {
  files: BounceFileSummary[];
  hard: number;
  soft: number;
  other: number;
  /** Addresses that were not on the suppression list before this import. */
  newlySuppressed: number;
  invalidRecipients: number;
}

export interface ImportOptions {
  store: SuppressionStore;
  now?: () => Date;
}

export async function importBounceFiles(files: string[], options: ImportOptions): Promise<BounceImportSummary> {
  const summary: BounceImportSummary = { files: [], hard: 0, soft: 0, other: 0, newlySuppressed: 0, invalidRecipients: 0 };
  for (const file of files) {
    const { fileSummary, newlySuppressed } = await importBounceFile(file, options);
    summary.files.push(fileSummary);
    summary.hard += fileSummary.hard;
    summary.soft += fileSummary.soft;
    summary.other += fileSummary.other;
    summary.invalidRecipients += fileSummary.invalidRecipients;
    summary.newlySuppressed += newlySuppressed;
  }
  return summary;
}

async function importBounceFile(file: string, options: ImportOptions): Promise<{ fileSummary: BounceFileSummary; newlySuppressed: number }> {
  const now = options.now ?? (() => new Date());
  const gzip = await isGzip(file);
  const openStream = (): Readable => {
    const raw = createReadStream(file);
    if (!gzip) return raw;
    const gunzip = createGunzip();
    raw.on('error', (err) => gunzip.destroy(err));
    return raw.pipe(gunzip);
  };
  const lines = createInterface({ input: openStream(), crlfDelay: Infinity });
  const summary: BounceFileSummary = { file, format: 'log', gzip, lines: 0, hard: 0, soft: 0, other: 0, invalidRecipients: 0 };
  let hardBatch: Array<[string, SuppressionEntry]> = [];
  let softBatch: string[] = [];
  let newlySuppressed = 0;
  const flush = async () => {
    newlySuppressed += await options.store.add(hardBatch);
    await options.store.countSoft(softBatch);
    hardBatch = [];
    softBatch = [];
  };
  const record = async (event: BounceEvent, where: string, line: string) => {
    const parsed = parseEmailAddress(event.recipient);
    if (!parsed.ok) {
      summary.invalidRecipients += 1;
      return;
    }
    summary[event.kind] += 1;
    if (event.kind === 'soft') softBatch.push(parsed.key);
    if (event.kind === 'hard') {
      hardBatch.push([
        parsed.key,
        { address: parsed.address, reason: event.diagnostic, status: event.status, source: where, line: cleanText(line, 1000), via: event.source, addedAt: now().toISOString() },
      ]);
    }
    if (hardBatch.length + softBatch.length >= BATCH) await flush();
  };

  let message: string[] | null = null;
  let messageBytes = 0;
  try {
    for await (const line of lines) {
      summary.lines += 1;
      if (summary.lines === 1 && /^(From \S|[A-Za-z][A-Za-z0-9-]*:\s)/.test(line)) {
        summary.format = 'dsn';
        message = [];
      }
      if (message) {
        messageBytes += line.length + 1;
        if (messageBytes > MAX_MESSAGE_BYTES) {
          throw new HygieneError('INPUT_UNREADABLE', `${file} looks like a bounce message but is bigger than ${MAX_MESSAGE_BYTES} bytes.`, { path: file });
        }
        message.push(line);
        continue;
      }
      const event = parseMailLogLine(line);
      if (event) await record(event, `${file}:${summary.lines}`, line);
    }
    if (message) {
      const text = message.join('\n');
      for (const event of parseDsnMessages(text)) {
        await record(event, `${file}`, `Final-Recipient: ${event.recipient}; Status: ${event.status ?? '?'}; ${event.diagnostic}`);
      }
    }
    await flush();
  } catch (err) {
    if (err instanceof HygieneError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'it does not exist' : code === 'EACCES' ? 'permission denied' : code === 'Z_DATA_ERROR' ? 'it is not valid gzip' : (err as Error).message;
    throw new HygieneError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `Cannot read the bounce file ${file} (${why}).`, { path: file }, { cause: err });
  }
  return { fileSummary: summary, newlySuppressed };
}

async function isGzip(file: string): Promise<boolean> {
  let handle;
  try {
    handle = await open(file, 'r');
    const buffer = Buffer.alloc(2);
    const { bytesRead } = await handle.read(buffer, 0, 2, 0);
    return bytesRead === 2 && buffer[0] === 0x1f && buffer[1] === 0x8b;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new HygieneError(code === 'ENOENT' ? 'INPUT_NOT_FOUND' : 'INPUT_UNREADABLE', `Cannot read the bounce file ${file} (${code ?? (err as Error).message}).`, { path: file }, { cause: err });
  } finally {
    await handle?.close();
  }
}
