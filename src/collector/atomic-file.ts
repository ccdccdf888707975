/**
 * Output files appear atomically: we write to a hidden temp file in the same directory and rename it
 * over the final name only once complete (rename is atomic within a filesystem). A crash leaves at
 * most a stray `.name.tmp-*` file, never a half-written file under the final name.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';

export interface AtomicFile {
  stream: WriteStream;
  tempPath: string;
  finalPath: string;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/** `highWaterMark`: bytes buffered before write() asks the writer to wait (Node's default: 16 KiB). */
export function openAtomicFile(finalPath: string, options: { highWaterMark?: number } = {}): AtomicFile {
  const tempPath = path.join(path.dirname(finalPath), `.${path.basename(finalPath)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
  const stream = createWriteStream(tempPath, { flags: 'wx', mode: 0o644, ...(options.highWaterMark === undefined ? {} : { highWaterMark: options.highWaterMark }) });
  const closed = new Promise<void>((resolve, reject) => {
    stream.once('close', resolve);
    stream.once('error', reject);
  });
  return {
    stream,
    tempPath,
    finalPath,
    async commit() {
      if (!stream.writableEnded) stream.end();
      await closed;
      await rename(tempPath, finalPath);
    },
    async abort() {
      stream.destroy();
      // Aborting: the stream was destroyed on purpose, so its close error says nothing new; the temp file goes next.
      await closed.catch(() => undefined);
      await rm(tempPath, { force: true });
    },
  };
}
