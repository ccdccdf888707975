/**
 * Upload handling at the boundary: bytes are streamed to a file of our naming
 * ({dataDir}/uploads/{uuid}.csv) and counted on the way; past the limit the request is refused with
 * 413 and the partial file removed, and so it is when the source fails or the upload's watchdog
 * (upload-guard.ts: client gone, idle or request timeout) aborts it: no partial file and no open
 * file descriptor outlive an upload. The client's file name never becomes a path: `safeBaseName`
 * reduces it to a plain output base name.
 */
import path from 'node:path';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { finished, Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { ApiError } from './api-errors.ts';

/** Streams `source` to `file`, refusing more than `maxBytes`; `signal` ends it early. Returns the bytes written. */
export async function saveUpload(source: Readable, file: string, maxBytes: number, signal?: AbortSignal): Promise<number> {
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(new ApiError(413, 'PAYLOAD_TOO_LARGE', `The upload is larger than the limit of ${maxBytes} bytes (HYGIENE_UPLOAD_MAX_BYTES).`));
      else callback(null, chunk);
    },
  });
  // The source is piped by hand, not through pipeline(): on refusal it must stay open so the 413
  // can still be written on the same connection (its remaining bytes are discarded). pipe() does not
  // pass on a source that fails or closes early (a client gone; a multipart part the parser gave
  // up on, possibly before we got it), so that and the watchdog's abort end the counter explicitly.
  const fail = (err: unknown): void => void counter.destroy(err instanceof Error ? err : new Error(String(err)));
  const onAbort = (): void => fail(signal?.reason);
  const stopWatching = finished(source, (err) => {
    if (err) fail(err);
  });
  signal?.addEventListener('abort', onAbort, { once: true });
  if (signal?.aborted) onAbort();
  source.pipe(counter);
  const out = createWriteStream(file, { flags: 'wx', mode: 0o600 });
  try {
    await pipeline(counter, out);
  } catch (err) {
    source.unpipe(counter);
    source.resume();
    // The file may still be opening: remove it only once the stream has closed, or it reappears.
    if (!out.closed) await new Promise<void>((resolve) => out.once('close', () => resolve()));
    await rm(file, { force: true });
    throw err;
  } finally {
    stopWatching();
    signal?.removeEventListener('abort', onAbort);
  }
  return bytes;
}

/**
 * "../../etc/passwd.csv" → "passwd"; "C:\\x\\Q1 leads (final).csv" → "Q1_leads_final_". Keeps letters,
 * digits, dot, dash and underscore; no leading dots; at most 100 characters; "list" when nothing is left.
 */
export function safeBaseName(clientName: string | undefined): string {
  if (!clientName) return 'list';
  const last = clientName.split(/[\\/]/).pop() ?? '';
  const cleaned = last
    .replace(/\.(csv|tsv|txt)$/i, '')
    .replace(/[^A-Za-z0-9._-]+/g, '_')
    .replace(/^[._]+/, '')
    .slice(0, 100);
  return cleaned === '' ? 'list' : cleaned;
}

/** Inside `root` (no "..", no absolute escape): uploads and outputs this API may remove or resume. */
export function isInside(root: string, target: string): boolean {
  const relative = path.relative(root, target);
  return relative !== '' && !relative.startsWith('..') && !path.isAbsolute(relative);
}
