/**
 * The parse pass of uploaded lists, run by the API in the background under a lease, and the
 * take-over of lists whose API process died during it.
 *
 * Why: an upload gets a random list id and its parse pass runs in the API process after the 202.
 * If that process dies (killed, crashed, host lost) the list would stay in `parsing` for ever: no
 * worker can pick it up, because nothing is queued before the parse pass ends. The `hygiene verify`
 * command does not need this: running the same command again resumes the same list.
 *
 * Each API process holds a lease (`{p}:list:{id}:owner`, with a TTL) on the lists it is parsing,
 * renewed every third of the TTL. Every API process looks now and then for lists in `parsing` or
 * `enqueuing` whose upload is in its uploads folder and whose lease has lapsed, takes the lease,
 * and starts them again. startList resumes a list from where it stopped: an interrupted parse
 * starts over, and an interrupted enqueue re-adds the same job ids.
 */
import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { startList, type StartListRequest, type StartedList } from '../app/list-runner.ts';
import type { HygieneRuntime } from '../app/runtime.ts';
import { listsIndexKey } from '../store/redis-keys.ts';
import { isInside } from './upload-file.ts';

export interface ListStarterDeps {
  runtime: HygieneRuntime;
  logger: Logger;
  /** Only lists whose input is in this folder are taken over (this API's uploads). */
  uploadsDir: string;
  leaseMs: number;
  /** Called when a taken-over list fails for good (the route's own uploads report failures themselves). */
  onListFailed: (listId: string, error: string) => Promise<void> | void;
}

export interface ListStarter {
  /**
   * Runs startList for a new upload under a fresh lease. Rejects like startList; the lease is given
   * up when the parse pass (and enqueue) is over, whatever the outcome.
   */
  start(request: StartListRequest & { listId: string }): Promise<StartedList>;
  /** One look for orphaned lists; resolves with how many were taken over (they run on). */
  sweep(): Promise<number>;
  /**
   * Stops looking and renewing. Leases still held are not given up: this process's parse passes may
   * still be writing until its Redis connections close, so another process takes over only once the
   * lease lapses.
   */
  close(): Promise<void>;
}

/** How far back the sweep looks for lists (the lists index is by creation time). */
const SWEEP_WINDOW_MS = 7 * 86_400_000;

export function createListStarter(deps: ListStarterDeps): ListStarter {
  const { runtime, logger, leaseMs } = deps;
  const { store, redis, config } = runtime;
  const owner = `${process.pid}-${randomUUID()}`;
  const held = new Set<string>();
  let closing = false;
  let sweeping: Promise<number> | null = null;

  const renewAll = async (): Promise<void> => {
    for (const listId of held) {
      const still = await store.renewOwner(listId, owner, leaseMs).catch(() => true);
      if (!still) {
        // Our process stalled past the TTL and another took over: it runs the list now.
        held.delete(listId);
        logger.warn({ listId }, 'lost the parse lease of a list; another API process carries on with it');
      }
    }
  };
  const renewTimer = setInterval(() => void renewAll(), Math.max(100, Math.floor(leaseMs / 3)));
  renewTimer.unref();

  const runHeld = async (listId: string, request: StartListRequest): Promise<StartedList> => {
    held.add(listId);
    try {
      return await startList(runtime, { ...request, listId });
    } finally {
      held.delete(listId);
      // After close the process is going away and its Redis may be gone: the lease lapses.
      if (!closing) await store.releaseOwner(listId, owner).catch(() => undefined);
    }
  };

  const takeOver = async (listId: string): Promise<boolean> => {
    if (!(await store.claimOwner(listId, owner, leaseMs))) return false;
    // Checked again under the lease: the previous owner may have finished in between.
    const list = await store.get(listId);
    if (!list || (list.state !== 'parsing' && list.state !== 'enqueuing') || !isInside(deps.uploadsDir, list.input)) {
      await store.releaseOwner(listId, owner);
      return false;
    }
    logger.warn({ listId, state: list.state }, 'taking over a list whose API process stopped during its parse pass');
    const running = runHeld(listId, { input: list.input, outDir: list.outDir, name: list.name, options: list.options });
    running.catch(async (err: unknown) => {
      if (closing) return;
      const message = (err as Error).message;
      logger.error({ listId, err: message }, 'a taken-over list failed while parsing');
      // Logged above; if Redis refuses this too, the list's owner lease lapses and another process retries it.
      await store.setState(listId, 'failed', { error: message }).catch(() => undefined);
      // The hook (webhook, metrics) must not stop the sweep; its own errors are its to log.
      await Promise.resolve(deps.onListFailed(listId, message)).catch(() => undefined);
    });
    return true;
  };

  const sweepOnce = async (): Promise<number> => {
    const ids = await redis.zrangebyscore(listsIndexKey(config.keyPrefix), Date.now() - SWEEP_WINDOW_MS, '+inf');
    if (ids.length === 0) return 0;
    const states = redis.pipeline();
    for (const id of ids) states.hmget(store.keys(id).list, 'state', 'input');
    const results = (await states.exec()) ?? [];
    const candidates = ids.filter((id, i) => {
      const [err, value] = results[i] ?? [null, null];
      if (err || !Array.isArray(value)) return false;
      const [state, input] = value as Array<string | null | undefined>;
      return (state === 'parsing' || state === 'enqueuing') && typeof input === 'string' && isInside(deps.uploadsDir, input) && !held.has(id);
    });
    let taken = 0;
    for (const id of candidates) {
      if (closing) break;
      if (await takeOver(id)) taken += 1;
    }
    return taken;
  };

  return {
    async start(request) {
      if (!(await store.claimOwner(request.listId, owner, leaseMs))) {
        throw new Error(`List ${request.listId} is already being parsed by another process.`);
      }
      return runHeld(request.listId, request);
    },
    sweep() {
      // One sweep at a time: a slow one is not overlapped by the next tick.
      sweeping ??= sweepOnce().finally(() => {
        sweeping = null;
      });
      return sweeping;
    },
    async close() {
      closing = true;
      clearInterval(renewTimer);
      // Shutting down: the sweep logged its own failure; only its end matters here.
      await sweeping?.catch(() => undefined);
    },
  };
}
