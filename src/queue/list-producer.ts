/**
 * Producer: first pass over the rows. Records every unique address (first occurrence wins, by
 * case-insensitive key) under its domain in Redis, then splits the domains into verify jobs.
 * Memory stays flat: rows are handled in batches and everything that grows with the file is in Redis.
 */
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { CsvRecord } from '../csv/csv-row-stream.ts';
import { checkRecord } from '../csv/record-check.ts';
import type { DomainSlice, VerifyJobData } from './job-types.ts';
import { verifyJobId } from './job-types.ts';
import type { ListStore } from './list-store.ts';
import { loadLuaScript, PACK_SEPARATOR, runScript } from './lua-script.ts';

export interface RecordAddressesInput {
  listId: string;
  /** Batches of records (see CsvRecords). */
  rows: AsyncIterable<CsvRecord[]>;
  delimiter: string;
  emailColumn: number;
  expectedCells: number;
  batchSize?: number;
  onProgress?: (rowsRead: number) => void;
}

export interface RecordAddressesResult {
  rows: number;
  uniqueAddresses: number;
}

/** list-producer-record-batch.lua (KEYS and ARGV in its header). */
const RECORD_BATCH = loadLuaScript(new URL('./list-producer-record-batch.lua', import.meta.url));

/** list-producer-list-lengths.lua (KEYS and ARGV in its header). */
const LIST_LENGTHS = loadLuaScript(new URL('./list-producer-list-lengths.lua', import.meta.url));

/** Batches sent to Redis but not answered yet: parsing goes on meanwhile (bounded, so memory stays flat). */
const MAX_BATCHES_IN_FLIGHT = 3;

export async function recordAddresses(redis: Redis, store: ListStore, input: RecordAddressesInput): Promise<RecordAddressesResult> {
  const keys = store.keys(input.listId);
  const batchSize = input.batchSize ?? 2_000;
  const scriptKeys = [keys.first, keys.domains, keys.list];
  const domainPrefix = keys.domain('');
  let rows = 0;
  let unique = 0;
  // The batch being filled: address, index, key ('' = the address) per address, joined at send.
  let packed: string[] = [];
  const inFlight: Array<Promise<void>> = [];

  const send = (): void => {
    const rowsAtEnd = rows;
    const sent = runScript(redis, RECORD_BATCH, scriptKeys, [domainPrefix, rowsAtEnd, packed.join(PACK_SEPARATOR)]).then((added) => {
      unique += Number(added);
      input.onProgress?.(rowsAtEnd);
    });
    packed = [];
    // Handled here so a failure while an earlier batch is awaited is no unhandled rejection; the
    // original promise still rejects where it is awaited below.
    sent.catch(() => undefined);
    inFlight.push(sent);
  };

  for await (const records of input.rows) {
    for (const record of records) {
      rows += 1;
      const { check } = checkRecord(record, input.delimiter, input.emailColumn, input.expectedCells);
      if (check.kind === 'address') packed.push(check.parsed.address, String(record.index), check.parsed.key === check.parsed.address ? '' : check.parsed.key);
    }
    if (packed.length >= 3 * batchSize) {
      send();
      // ioredis answers in order on one connection, so waiting for the oldest batch is enough.
      if (inFlight.length >= MAX_BATCHES_IN_FLIGHT) await inFlight.shift();
    }
  }
  if (packed.length > 0) send();
  for (const sent of inFlight.splice(0)) await sent;
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
  // Sorted for stable job ids; the lengths of their address lists come a page at a time.
  const domains = (await redis.smembers(keys.domains)).sort();
  let seq = 0;
  let slices: DomainSlice[] = [];
  let size = 0;
  let pending: Array<{ name: string; data: VerifyJobData; opts: { jobId: string } }> = [];
  // Job groups go to Redis one after another (ids registered before their jobs are added, group by
  // group) but the domain walk does not wait for each: it only waits when more than
  // MAX_BATCHES_IN_FLIGHT groups are on their way.
  const adding: Array<Promise<void>> = [];
  let pageLengths: number[] = [];

  const emit = async (force: boolean): Promise<void> => {
    if (slices.length > 0) {
      const jobId = verifyJobId(listId, seq++);
      pending.push({ name: 'verify', data: { listId, slices, attempt: 1 }, opts: { jobId } });
      slices = [];
      size = 0;
    }
    if (pending.length >= 200 || (force && pending.length > 0)) {
      const jobs = pending;
      pending = [];
      const previous = adding[adding.length - 1] ?? Promise.resolve();
      // Register ids before adding jobs: a job finishing early must never see an incomplete set.
      const added = previous.then(async () => {
        await store.registerJobs(listId, jobs.map((job) => job.opts.jobId));
        await queue.addBulk(jobs);
      });
      // Handled here so a failure before it is awaited is no unhandled rejection; it still rejects where awaited.
      added.catch(() => undefined);
      adding.push(added);
      if (adding.length > MAX_BATCHES_IN_FLIGHT) await adding.shift();
    }
  };

  // Pages of lengths are asked for ahead (bounded), so the walk over one page overlaps the next.
  const PAGE = 1_000;
  const lengthsOf = (page: string[]): Promise<number[]> => {
    const asked = runScript(redis, LIST_LENGTHS, [], [keys.domain(''), page.join(PACK_SEPARATOR)]) as Promise<number[]>;
    // Handled here so a failure before it is awaited is no unhandled rejection; it still rejects where awaited.
    asked.catch(() => undefined);
    return asked;
  };
  const asked: Array<Promise<number[]>> = [];
  for (let i = 0; i < domains.length && asked.length < MAX_BATCHES_IN_FLIGHT; i += PAGE) asked.push(lengthsOf(domains.slice(i, i + PAGE)));
  for (let i = 0; i < domains.length; i++) {
    if (i % PAGE === 0) {
      pageLengths = await asked.shift()!;
      const ahead = i + PAGE * (asked.length + 1);
      if (ahead < domains.length) asked.push(lengthsOf(domains.slice(ahead, ahead + PAGE)));
    }
    const domain = domains[i]!;
    const length = Number(pageLengths[i % PAGE] ?? 0);
    for (let start = 0; start < length; ) {
      const take = Math.min(jobSize - size, length - start);
      slices.push({ domain, start, stop: start + take - 1 });
      size += take;
      start += take;
      if (size >= jobSize) await emit(false);
    }
  }
  await emit(true);
  for (const added of adding.splice(0)) await added;
  return seq;
}
