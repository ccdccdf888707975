/**
 * What a worker does with one verify job: load the job's addresses, skip those that already have a
 * verdict (a job re-run after a crash probes nothing twice), ask the verifier, record verdicts,
 * schedule greylisting retries as delayed jobs (no worker is held while waiting), and trigger the
 * list's finalize step when this was the last job.
 *
 * Probes a paused MX sent back unasked become delayed jobs due when the pause ends (at most
 * pauseRetries times; then unknown/throttled). When the run's fault guard has tripped (our port 25,
 * resolver or IP), the job records nothing: the list is failed with the guard's message instead, so
 * our fault never becomes a row's verdict.
 */
import type { Job, Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { parseEmailAddress } from '../domain/email-address.ts';
import type { AddressToVerify, BatchVerifier } from '../domain/verifier.ts';
import type { Verdict } from '../domain/verdict.ts';
import type { FinalizeJobData, VerifyJobData } from './job-types.ts';
import { deferredJobId, finalizeJobId, retryJobId } from './job-types.ts';
import type { HygieneError } from '../errors.ts';
import type { ListStore, ListWait } from './list-store.ts';

export interface VerifyProcessorDeps {
  redis: Redis;
  store: ListStore;
  verifier: BatchVerifier;
  verifyQueue: Queue<VerifyJobData>;
  finalizeQueue: Queue<FinalizeJobData>;
  greylistMaxAttempts: number;
  /** How many times an address may be sent back unasked by a paused MX (HYGIENE_MX_PAUSE_RETRIES). Default 6. */
  pauseRetries?: number;
  logger: Logger;
  /** The run's fault guard error once tripped (our own fault), else null. */
  stoppedBy?: () => HygieneError | null;
  /** Fails the list with that error (runtime.failList). */
  failList?: (listId: string, error: HygieneError) => Promise<void>;
}

export async function loadJobAddresses(redis: Redis, store: ListStore, data: VerifyJobData): Promise<string[]> {
  if (data.addresses) return data.addresses;
  return (await loadJobSlices(redis, store, data)).flatMap((slice) => slice.addresses);
}

/** The addresses of a slice job, with the domain list each came from. */
async function loadJobSlices(redis: Redis, store: ListStore, data: VerifyJobData): Promise<Array<{ domain: string; addresses: string[] }>> {
  const keys = store.keys(data.listId);
  const slices = data.slices ?? [];
  const pipeline = redis.pipeline();
  for (const slice of slices) pipeline.lrange(keys.domain(slice.domain), slice.start, slice.stop);
  const results = (await pipeline.exec()) ?? [];
  return results.map(([err, value], i) => {
    if (err) throw err;
    return { domain: slices[i]!.domain, addresses: value as string[] };
  });
}

/** parseEmailAddress's ASCII_PRINTABLE: a local part an SMTP server without SMTPUTF8 can be asked about. */
const ASCII_PRINTABLE = /^[\x20-\x7e]*$/;

/**
 * The parts of an address read from a domain list. Those lists hold parseEmailAddress's `address`
 * (local + '@' + domain) under its `domain`, so the parts follow without parsing the address again
 * (that second parse was a third of a verify job's CPU); anything unexpected is parsed as before.
 */
export function storedAddress(address: string, domain: string): { key: string; item: AddressToVerify } | null {
  const local = address.length > domain.length + 1 ? address.slice(0, address.length - domain.length - 1) : '';
  if (local === '' || !address.endsWith(domain) || address[local.length] !== '@') {
    const parsed = parseEmailAddress(address);
    if (!parsed.ok) return null; // cannot happen: only parsed addresses are stored
    return { key: parsed.key, item: { address: parsed.address, local: parsed.local, domain: parsed.domain, asciiLocal: parsed.asciiLocal } };
  }
  return { key: address.toLowerCase(), item: { address, local, domain, asciiLocal: ASCII_PRINTABLE.test(local) } };
}

export function createVerifyProcessor(deps: VerifyProcessorDeps) {
  return async function processVerifyJob(job: Job<VerifyJobData>): Promise<{ verified: number; retried: number }> {
    const { listId, attempt } = job.data;
    const log = deps.logger.child({ listId, jobId: job.id });
    const list = await deps.store.get(listId);
    if (!list) {
      // The list was deleted while its jobs waited: nothing to do, and nothing to finalize.
      log.warn('verify job for a list that no longer exists; skipped');
      return { verified: 0, retried: 0 };
    }
    if (list.state === 'failed') {
      // Stopped (our own fault, see failList): nothing more is probed for it.
      log.info('verify job for a failed list; skipped');
      return { verified: 0, retried: 0 };
    }
    const stopped = async (): Promise<boolean> => {
      const error = deps.stoppedBy?.();
      if (!error) return false;
      await deps.failList?.(listId, error);
      return true;
    };
    if (await stopped()) return { verified: 0, retried: 0 };
    // A delayed job (greylisting retry, or probes a paused MX sent back) starts: its addresses no longer wait.
    if (attempt > 1 || (job.data.deferrals ?? 0) > 0) await deps.store.clearWaiting(listId, String(job.id));
    const toVerify: AddressToVerify[] = [];
    const keyOf = new Map<string, string>();
    const add = (found: { key: string; item: AddressToVerify } | null): void => {
      if (!found) return;
      keyOf.set(found.item.address, found.key);
      toVerify.push(found.item);
    };
    if (job.data.addresses) {
      for (const address of job.data.addresses) {
        const parsed = parseEmailAddress(address);
        if (!parsed.ok) continue; // cannot happen: only parsed addresses are stored
        add({ key: parsed.key, item: { address: parsed.address, local: parsed.local, domain: parsed.domain, asciiLocal: parsed.asciiLocal } });
      }
    } else {
      for (const slice of await loadJobSlices(deps.redis, deps.store, job.data)) for (const address of slice.addresses) add(storedAddress(address, slice.domain));
    }
    // A job's first run (not a stalled or failed one run again, not a greylisting retry) cannot
    // find verdicts of its own: skip the lookup (a big HMGET per job, for nothing, on every list).
    const firstRun = job.attemptsStarted <= 1 && attempt === 1;
    const already = firstRun ? new Set<string>() : await deps.store.verifiedKeys(listId, [...keyOf.values()]);
    const pending = already.size === 0 ? toVerify : toVerify.filter((a) => !already.has(keyOf.get(a.address) ?? ''));

    const verdicts = new Map<string, Verdict>();
    const retry: string[] = [];
    const retryWaits = new WaitGroups();
    let retryAfterMs = 0;
    const deferrals = job.data.deferrals ?? 0;
    /** Addresses a paused MX sent back, by when to ask again (rounded to the second), and what they wait for. */
    const deferred = new Map<number, string[]>();
    const deferredWaits = new Map<number, WaitGroups>();
    if (pending.length > 0) {
      const outcomes = await deps.verifier.verify({
        listId,
        addresses: pending,
        attempt,
        maxAttempts: deps.greylistMaxAttempts,
        maxVerdictAgeMs: list.options.maxVerdictAgeMs,
        skipCache: list.options.skipCache,
        refusePrivateMx: list.options.refusePrivateMx,
      });
      // Our own fault tripped the guard meanwhile: these outcomes are not facts about the addresses.
      if (await stopped()) return { verified: 0, retried: 0 };
      for (const item of pending) {
        const key = keyOf.get(item.address) ?? item.address.toLowerCase();
        const outcome = outcomes.get(item.address);
        if (!outcome) {
          verdicts.set(key, { status: 'unknown', reason: 'smtp_error', detail: 'The verifier returned no answer for this address.', checkedAt: new Date().toISOString() });
        } else if (outcome.kind === 'retry' && outcome.notAsked === true && deferrals < (deps.pauseRetries ?? 6)) {
          const due = Math.ceil(outcome.retryAfterMs / 1_000) * 1_000;
          deferred.set(due, [...(deferred.get(due) ?? []), item.address]);
          if (!deferredWaits.has(due)) deferredWaits.set(due, new WaitGroups());
          deferredWaits.get(due)!.add(outcome.verdict);
        } else if (outcome.kind === 'retry' && outcome.notAsked !== true && attempt < deps.greylistMaxAttempts) {
          retry.push(item.address);
          retryWaits.add(outcome.verdict);
          retryAfterMs = Math.max(retryAfterMs, outcome.retryAfterMs);
        } else {
          verdicts.set(key, outcome.verdict);
        }
      }
    }

    if (retry.length > 0) {
      const id = retryJobId(String(job.id), attempt + 1);
      await deps.store.registerJobs(listId, [id]);
      await deps.store.noteWaiting(listId, id, { kind: 'retry', dueAt: Date.now() + retryAfterMs, groups: retryWaits.groups() });
      await deps.verifyQueue.add('verify', { listId, addresses: retry, attempt: attempt + 1, deferrals }, { jobId: id, delay: retryAfterMs });
      log.info({ addresses: retry.length, delayMs: retryAfterMs, attempt: attempt + 1 }, 'greylisted; retry scheduled');
    }
    if (deferred.size > 0) {
      // Delayed jobs, due when the pause ends: no worker is held while a server makes us wait.
      const groups = [...deferred.entries()].map(([delay, addresses], index) => ({ id: deferredJobId(String(job.id), deferrals + 1, index), delay, addresses }));
      await deps.store.registerJobs(listId, groups.map((g) => g.id));
      for (const group of groups) {
        await deps.store.noteWaiting(listId, group.id, { kind: 'paused', dueAt: Date.now() + group.delay, groups: deferredWaits.get(group.delay)?.groups() ?? [] });
        await deps.verifyQueue.add('verify', { listId, addresses: group.addresses, attempt, deferrals: deferrals + 1 }, { jobId: group.id, delay: group.delay });
      }
      log.info({ addresses: groups.reduce((n, g) => n + g.addresses.length, 0), delaysMs: groups.map((g) => g.delay), deferral: deferrals + 1 }, 'MX paused; probes scheduled for when the pause ends');
    }
    const added = await deps.store.saveVerdicts(listId, verdicts);
    if (await deps.store.markJobDone(listId, String(job.id))) {
      await deps.finalizeQueue.add('finalize', { listId }, { jobId: finalizeJobId(listId) });
      log.info('last verify job done; finalize queued');
    }
    return { verified: added, retried: retry.length };
  };
}

/** Addresses of a delayed job counted by what they wait for: the reason they would get now, and the MX. */
class WaitGroups {
  private readonly counts = new Map<string, ListWait['groups'][number]>();

  add(verdict: Pick<Verdict, 'reason' | 'mx'>): void {
    const key = `${verdict.reason}\u0000${verdict.mx ?? ''}`;
    const group = this.counts.get(key);
    if (group) group.addresses += 1;
    else this.counts.set(key, { reason: verdict.reason, ...(verdict.mx ? { mx: verdict.mx } : {}), addresses: 1 });
  }

  groups(): ListWait['groups'] {
    return [...this.counts.values()];
  }
}

/**
 * A verify job that failed for good (every BullMQ attempt threw: Redis trouble, a bug) must not
 * leave its list waiting forever: its addresses without a verdict get unknown/smtp_error with the
 * error, and the job counts as done.
 */
export async function settleFailedVerifyJob(deps: Pick<VerifyProcessorDeps, 'redis' | 'store' | 'finalizeQueue' | 'logger'>, job: Job<VerifyJobData>, error: Error): Promise<void> {
  const { listId } = job.data;
  if (!(await deps.store.get(listId))) return;
  const addresses = await loadJobAddresses(deps.redis, deps.store, job.data);
  const keys = addresses.map((a) => a.toLowerCase());
  const already = await deps.store.verifiedKeys(listId, keys);
  const checkedAt = new Date().toISOString();
  const verdicts = new Map<string, Verdict>();
  for (const key of keys) {
    if (!already.has(key)) verdicts.set(key, { status: 'unknown', reason: 'smtp_error', detail: `Verification failed after ${job.attemptsMade} attempts: ${error.message}`, checkedAt });
  }
  await deps.store.saveVerdicts(listId, verdicts);
  if (await deps.store.markJobDone(listId, String(job.id))) {
    await deps.finalizeQueue.add('finalize', { listId }, { jobId: finalizeJobId(listId) });
  }
  deps.logger.error({ listId, jobId: job.id, addresses: verdicts.size, err: error.message }, 'verify job failed for good; its addresses are unknown/smtp_error');
}
