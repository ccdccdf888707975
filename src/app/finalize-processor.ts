/**
 * The completion step of a list: runs once every verify job is done (queued by the worker that
 * finished the last one, so it happens even if the process that started the list is gone). Streams
 * the input again through the collector and marks the list done.
 */
import { access, mkdir } from 'node:fs/promises';
import { constants } from 'node:fs';
import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { collectList } from '../collector/list-collector.ts';
import type { ListReport } from '../collector/report.ts';
import { parseRejectPolicy } from '../domain/routing-policy.ts';
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
    const { listId } = job.data;
    const log = deps.logger.child({ listId, jobId: job.id });
    const list = await deps.store.get(listId);
    if (!list) return { rows: 0 };
    if (list.state === 'done') return { rows: list.rows };
    // Workers on other machines may not see the input file: fail this attempt so that a process
    // that can (the one running `hygiene verify`) picks the retry up.
    await access(list.input, constants.R_OK);
    await deps.store.setState(listId, 'collecting');
    const input = await openListInput(list.input, list.options.emailColumn);
    await mkdir(list.outDir, { recursive: true });
    const report = await collectList(deps.redis, deps.store, {
      list,
      header: input.header,
      rows: await input.openRecords(),
      emailColumn: { index: input.emailColumn.index, name: input.emailColumn.name },
      dialect: { delimiter: input.sniffed.delimiter, encoding: input.sniffed.encoding, lineEnding: input.sniffed.lineEnding, hasHeader: input.header !== null },
      expectedCells: input.expectedCells,
      rejectPolicy: parseRejectPolicy(list.options.reject),
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
  };
}
