/**
 * The completion step of a list: runs once every verify job is done (queued by the worker that
 * finished the last one, so it happens even if the process that started the list is gone). Streams
 * the input again through the collector and marks the list done, after proving it read the bytes
 * the parse pass read (INPUT_CHANGED otherwise, before any output is renamed into place).
 */
import { access, mkdir, stat } from 'node:fs/promises';
import { constants } from 'node:fs';
import path from 'node:path';
import { UnrecoverableError, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { collectList } from '../collector/list-collector.ts';
import { InputDigest } from '../csv/input-digest.ts';
import { HygieneError, isHygieneError } from '../errors.ts';
import type { ListReport } from '../collector/report.ts';
import { restoreRejectPolicy } from '../domain/routing-policy.ts';
import type { FinalizeJobData } from '../queue/job-types.ts';
import type { ListStore } from '../queue/list-store.ts';
import { openListInput } from './list-input.ts';
import { writeHtmlReport } from '../report/write-html-report.ts';

export interface FinalizeDeps {
  redis: Redis;
  store: ListStore;
  logger: Logger;
  onFinished?: (report: ListReport) => Promise<void> | void;
}

export function createFinalizeProcessor(deps: FinalizeDeps) {
  return async function processFinalizeJob(job: Job<FinalizeJobData>): Promise<{ rows: number }> {
    try {
      return await finalizeList(job);
    } catch (err) {
      // Retrying cannot help: the list's rows are gone with the old bytes. Fail it now, keeping the
      // code (the runtime's failed handler records it for waitForList and the watcher).
      if (isHygieneError(err, 'INPUT_CHANGED')) throw Object.assign(new UnrecoverableError(err.message), { cause: err });
      throw err;
    }
  };

  async function finalizeList(job: Job<FinalizeJobData>): Promise<{ rows: number }> {
    const { listId } = job.data;
    const log = deps.logger.child({ listId, jobId: job.id });
    const list = await deps.store.get(listId);
    if (!list) return { rows: 0 };
    if (list.state === 'done') return { rows: list.rows };
    // Workers on other machines may not see the input file: fail this attempt so that a process
    // that can (the one running `hygiene verify`) picks the retry up.
    await access(list.input, constants.R_OK);
    await deps.store.setState(listId, 'collecting');
    const expected = list.inputIdentity;
    // Cheap checks first (size, how the file reads); the digest of this pass settles it at the end.
    if (expected) {
      const size = (await stat(list.input)).size;
      if (size !== expected.bytes) throw inputChanged(list.input, `it is ${size} bytes now, it was ${expected.bytes} bytes when it was read`);
    }
    const input = await openListInput(list.input, list.options.emailColumn).catch((err: unknown) => {
      throw expected ? inputChanged(list.input, `it cannot be read as before: ${(err as Error).message}`) : err;
    });
    if (expected && input.layout !== expected.layout) throw inputChanged(list.input, 'its format, header or email column no longer reads the same');
    const digest = new InputDigest();
    await mkdir(list.outDir, { recursive: true });
    const report = await collectList(deps.redis, deps.store, {
      list,
      header: input.header,
      rows: await input.openRecords(digest),
      beforeCommit: () => {
        const read = digest.result();
        if (expected && (read.sha256 !== expected.sha256 || read.bytes !== expected.bytes)) throw inputChanged(list.input, 'its content is not what was read before');
      },
      emailColumn: { index: input.emailColumn.index, name: input.emailColumn.name },
      dialect: { delimiter: input.sniffed.delimiter, encoding: input.sniffed.encoding, lineEnding: input.sniffed.lineEnding, hasHeader: input.header !== null },
      expectedCells: input.expectedCells,
      // Exactly the policy the list was started with (stored as its full list of names).
      rejectPolicy: restoreRejectPolicy(list.options.reject),
      openWriter: (file) => input.openWriter(file, list.options.neutraliseFormulas),
    });
    // The HTML report is for people; a failure to write it must not fail the list (report.json is there).
    await writeHtmlReport(report).catch((err: unknown) => log.warn({ err: (err as Error).message }, 'could not write the HTML report'));
    await deps.store.setState(listId, 'done', {
      finishedAt: report.timings.finishedAt,
      reportPath: report.outputs.report,
      cleanedPath: report.outputs.cleaned,
      rejectedPath: report.outputs.rejected,
      cleanedRows: report.cleanedRows,
      rejectedRows: report.rejectedRows,
    });
    await deps.store.expireList(listId);
    log.info({ rows: report.rows, cleaned: report.cleanedRows, rejected: report.rejectedRows }, 'list collected');
    await deps.onFinished?.(report);
    return { rows: report.rows };
  }
}

/** The list's input is not the file the parse pass read: every row index and verdict refers to that one. */
function inputChanged(file: string, what: string): HygieneError {
  return new HygieneError(
    'INPUT_CHANGED',
    `The input file ${path.basename(file)} changed while it was being verified (${what}), so its rows can no longer be matched to their verdicts; no output was written. Run the same command again (or drop the file into the watched inbox again) to verify the file as it is now.`,
    { file: path.basename(file) },
  );
}
