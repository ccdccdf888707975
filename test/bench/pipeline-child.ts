/**
 * One measurement of benchmark 2, in its own process so its peak RSS is its own:
 *   pipeline-child.ts pipeline FILE   the product path with the 'syntax' verifier (HygieneRuntime,
 *                                     startList, waitForList: parse, Redis, queue, collect, write)
 *   pipeline-child.ts raw FILE        csv-parse → csv-stringify of the same file, once
 * Prints one JSON line: { mode, rows, elapsedMs, maxRssMb }.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { parse } from 'csv-parse';
import { stringify } from 'csv-stringify';
import { createLogger } from '../../src/app/logger.ts';
import { startList, waitForList } from '../../src/app/list-runner.ts';
import { HygieneRuntime } from '../../src/app/runtime.ts';
import { loadConfig } from '../../src/config/config.ts';
import { REDIS_URL, dropPrefix, freshPrefix } from './bench-support.ts';

const [mode, file] = process.argv.slice(2);
if ((mode !== 'pipeline' && mode !== 'raw') || !file) {
  process.stderr.write('usage: pipeline-child.ts pipeline|raw FILE\n');
  process.exit(2);
}

const outDir = await mkdtemp(path.join(os.tmpdir(), 'hygiene-bench-pipe-'));
let rows = 0;
let elapsedMs = 0;
const started = performance.now();
try {
  if (mode === 'raw') {
    const count = new Transform({
      objectMode: true,
      transform(record, _enc, done) {
        rows++;
        done(null, record);
      },
    });
    await pipeline(createReadStream(file), parse({ relax_column_count: true }), count, stringify(), createWriteStream(path.join(outDir, 'raw.csv')));
    rows -= 1; // header
    elapsedMs = performance.now() - started;
  } else {
    const prefix = freshPrefix('pipeline');
    const config = loadConfig({ REDIS_URL, HYGIENE_PREFIX: prefix, LOG_LEVEL: 'warn' });
    const runtime = await HygieneRuntime.start({ config, logger: createLogger('warn'), redisUrl: REDIS_URL, verifyWorkers: true, finalizeWorker: true, verifier: 'syntax' });
    try {
      const { listId } = await startList(runtime, { input: file, outDir, options: { reject: 'undeliverable,duplicate,missing_email,malformed_row', neutraliseFormulas: true } });
      const list = await waitForList(runtime, listId, { pollMs: 25 });
      rows = list.rows;
      elapsedMs = performance.now() - started;
    } finally {
      await runtime.close();
      await dropPrefix(prefix);
    }
  }
} finally {
  await rm(outDir, { recursive: true, force: true });
}
// maxRSS is in kilobytes.
process.stdout.write(`${JSON.stringify({ mode, rows, elapsedMs, maxRssMb: process.resourceUsage().maxRSS / 1024 })}\n`);
process.exit(0);
