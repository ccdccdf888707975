/**
 * Producer: first pass over the rows. Records every unique address (first occurrence wins, by
 * case-insensitive key) under its domain in Redis, then splits the domains into verify jobs.
 * Memory stays flat: rows are handled in batches and everything that grows with the file is in Redis.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { checkRow } from '../domain/row-check.ts';
import type { DomainSlice, VerifyJobData } from './job-types.ts';
import { verifyJobId } from './job-types.ts';
import type { ListStore } from './list-store.ts';

export interface CsvRow {
  problem?: { detail: string; raw?: string };
  /** 0-based data row index (header excluded); identical on every pass over the same file. */
  index: number;
  cells: string[];
}

export interface RecordAddressesInput {
  listId: string;
  rows: AsyncIterable<CsvRow>;
  emailColumn: number;
  expectedCells: number;
  batchSize?: number;
  onProgress?: (rowsRead: number) => void;
}

export interface RecordAddressesResult {
  rows: number;
  uniqueAddresses: number;
}

export async function recordAddresses(redis: Redis, store: ListStore, input: RecordAddressesInput): Promise<RecordAddressesResult> {
  const keys = store.keys(input.listId);
  const batchSize = input.batchSize ?? 2_000;
  let rows = 0;
  let unique = 0;
  let batch: Array<{ key: string; address: string; domain: string; index: number }> = [];

  const flush = async (): Promise<void> => {
    if (batch.length === 0) return;
    const claim = redis.pipeline();
    for (const item of batch) claim.hsetnx(keys.first, item.key, item.index);
    const claimed = (await claim.exec()) ?? [];
    const record = redis.pipeline();
    batch.forEach((item, i) => {
      const [err, won] = claimed[i] ?? [];
      if (err) throw err;
      if (won === 1) {
        unique += 1;
        record.rpush(keys.domain(item.domain), item.address);
        record.sadd(keys.domains, item.domain);
      }
    });
    record.hset(keys.list, { rows, uniqueAddresses: unique });
    await record.exec();
    batch = [];
  };

  for await (const row of input.rows) {
    rows += 1;
    const check = checkRow(row, input.emailColumn, input.expectedCells);
    if (check.kind === 'address') {
      batch.push({ key: check.parsed.key, address: check.parsed.address, domain: check.parsed.domain, index: row.index });
    }
    if (batch.length >= batchSize) {
      await flush();
      input.onProgress?.(rows);
    }
  }
  await flush();
  await store.update(input.listId, { rows, uniqueAddresses: unique });
  return { rows, uniqueAddresses: unique };
}

/**
 * Splits the list's domains into verify jobs of at most `jobSize` addresses: a large domain is cut
 * into several jobs, small domains share one. Domains are walked in sorted order and lists are in
 * file order, so the same list always yields the same job ids — re-running an interrupted enqueue
 * adds nothing twice (BullMQ ignores a job id it already has).
 */
export async function enqueueVerifyJobs(redis: Redis, store: ListStore, queue: Queue<VerifyJobData>, listId: string, jobSize: number): Promise<number> {
  const keys = store.keys(listId);
  const domains = (await redis.smembers(keys.domains)).sort();
  let seq = 0;
  let slices: DomainSlice[] = [];
  let size = 0;
  let pending: Array<{ name: string; data: VerifyJobData; opts: { jobId: string } }> = [];

  const emit = async (force: boolean): Promise<void> => {
    if (slices.length > 0) {
      const jobId = verifyJobId(listId, seq++);
      pending.push({ name: 'verify', data: { listId, slices, attempt: 1 }, opts: { jobId } });
      slices = [];
      size = 0;
    }
    if (pending.length >= 200 || (force && pending.length > 0)) {
      // Register ids before adding jobs: a job finishing early must never see an incomplete set.
      await store.registerJobs(listId, pending.map((job) => job.opts.jobId));
      await queue.addBulk(pending);
      pending = [];
    }
  };

  for (let i = 0; i < domains.length; i += 500) {
    const chunk = domains.slice(i, i + 500);
    const lengths = redis.pipeline();
    for (const domain of chunk) lengths.llen(keys.domain(domain));
    const results = (await lengths.exec()) ?? [];
    for (const [j, domain] of chunk.entries()) {
      const length = Number(results[j]?.[1] ?? 0);
      for (let start = 0; start < length; ) {
        const take = Math.min(jobSize - size, length - start);
        slices.push({ domain, start, stop: start + take - 1 });
        size += take;
        start += take;
        if (size >= jobSize) await emit(false);
      }
    }
  }
  await emit(true);
  return seq;
}
