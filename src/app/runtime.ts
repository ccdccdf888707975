/**
 * Wiring: builds Redis connections, the resolver, the verifier, queues and workers from a Config,
 * and shuts them down once, in order (workers first so active jobs finish or are handed back, then
 * the verifier's SMTP sessions, then queues, then Redis). The only place that creates real clients.
 */
import { Queue, UnrecoverableError, Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { probeIdentity, type Config } from '../config/config.ts';
import { isHygieneError } from '../errors.ts';
import type { ListReport } from '../collector/report.ts';
import { createCachedMxResolver } from '../dns/cached-mx-resolver.ts';
import { createDnsMxResolver, type MxResolver } from '../dns/mx-resolver.ts';
import type { BatchVerifier, ProbeOutcome, VerifyBatch } from '../domain/verifier.ts';
import { CatchAllRegistry } from '../probe/catch-all-registry.ts';
import { createMxLeaseManager } from '../probe/mx-lease.ts';
import { createRcptRateLimiter } from '../probe/rcpt-rate-limiter.ts';
import { createSmtpVerifier, type SmtpVerifier } from '../probe/smtp-verifier.ts';
import { FaultGuard, observedResolver } from '../probe/fault-guard.ts';
import { createMxPauseStore } from '../probe/mx-pause-store.ts';
import { createSessionStartBudget } from '../probe/session-start-budget.ts';
import { createSenderBlockStore } from '../probe/sender-block-store.ts';
import { createSessionRuleStore } from '../probe/session-rule-store.ts';
import { IdentityHealth } from '../probe/identity-health.ts';
import { compileProviderMatcher } from '../providers/provider-matcher.ts';
import { blockSignatureOf } from '../providers/provider-replies.ts';
import type { MxPause } from '../probe/mx-pause-store.ts';
import type { HygieneError } from '../errors.ts';
import { createSyntaxOnlyVerifier } from '../probe/syntax-only-verifier.ts';
import { connectorFor } from '../smtp/identity-connector.ts';
import { createVerdictCache } from '../probe/verdict-cache.ts';
import type { PoolEvents, PoolStats } from '../probe/mx-session-pool.ts';
import type { FinalizeJobData, VerifyJobData } from '../queue/job-types.ts';
import { FINALIZE_QUEUE, VERIFY_QUEUE, bullPrefix, listKeys } from '../store/redis-keys.ts';
import { createMxStatsRecorder } from './mx-stats-recorder.ts';
import { createTroubleLog, type TroubleLog } from '../probe/backoff.ts';
import { isRedisRefusal, REDIS_REFUSES_MESSAGE } from './redis-connection.ts';
import { ListStore } from '../queue/list-store.ts';
import { createVerifyProcessor, settleFailedVerifyJob } from '../queue/verify-processor.ts';
import { createSuppressionStore } from '../bounces/suppression-store.ts';
import { withSuppression } from '../bounces/suppressed-verifier.ts';
import { completedPayload, createWebhookQueue, failedPayload, notifyListWebhook, notifySenderBlocked, type WebhookJobData } from '../webhook/list-webhooks.ts';
import type { SenderAlert } from '../collector/report.ts';
import { createFinalizeProcessor } from './finalize-processor.ts';
import { createRedisClient } from './redis-connection.ts';

export interface RuntimeOptions {
  config: Config;
  logger: Logger;
  redisUrl: string;
  /** Run verify workers in this process. */
  verifyWorkers: boolean;
  /** Run the finalize (collector) worker in this process. */
  finalizeWorker: boolean;
  /** 'smtp' (default), 'syntax' (no network), or a verifier of the caller's (tests). */
  verifier?: 'smtp' | 'syntax' | BatchVerifier;
  /** Extra hooks on the SMTP pools (transcripts for `hygiene probe`). */
  poolEvents?: PoolEvents;
  onListFinished?: (report: ListReport) => Promise<void> | void;
  /** Called once when a list's finalize step has failed for good (state 'failed'). */
  onListFailed?: (listId: string, error: string) => Promise<void> | void;
  /** Sees every batch's outcomes (metrics). */
  onOutcomes?: (batch: VerifyBatch, outcomes: ReadonlyMap<string, ProbeOutcome>) => void;
  /** Resolver override (tests). */
  resolver?: MxResolver;
}

export class HygieneRuntime {
  private readonly workers: Worker[] = [];
  /** Logs an error, or, when it is Redis refusing writes or gone, one calm line per interval for all of them. */
  private said!: RedisAwareLog;
  private closed = false;
  private readonly extraClients: Redis[] = [];

  private constructor(
    readonly config: Config,
    readonly logger: Logger,
    readonly redis: Redis,
    readonly store: ListStore,
    readonly verifyQueue: Queue<VerifyJobData>,
    readonly finalizeQueue: Queue<FinalizeJobData>,
    readonly verifier: BatchVerifier,
    /** Producer side only: list webhooks are queued by whichever process finishes the list (see list-webhooks.ts). */
    readonly webhookQueue: Queue<WebhookJobData>,
    /** Our own faults (port 25, resolver, refused IP): null for a syntax-only or a caller's verifier. */
    readonly faultGuard: FaultGuard | null,
    private readonly onListFailed?: (listId: string, error: string) => Promise<void> | void,
  ) {}

  static async start(options: RuntimeOptions): Promise<HygieneRuntime> {
    const { config, logger } = options;
    // Before any connection is made: an SMTP verifier needs a HELO name and a sender (CONFIG_INVALID otherwise).
    if (options.verifier === undefined || options.verifier === 'smtp') probeIdentity(config);
    const redis = createRedisClient(options.redisUrl, 'hygiene-main');
    // One for the whole process (pools, budgets, pauses, workers): Redis refusing writes is said once per interval.
    const trouble = createTroubleLog(logger);
    const said = redisAware(logger, trouble);
    redis.on('error', (err) => said.warn(err, {}, 'redis connection error'));
    const store = new ListStore(redis, config.keyPrefix);
    const queueOptions = { connection: redis, prefix: bullPrefix(config.keyPrefix) };
    const verifyQueue = new Queue<VerifyJobData>(VERIFY_QUEUE, {
      ...queueOptions,
      defaultJobOptions: { attempts: 5, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 30 * 86_400 } },
    });
    const finalizeQueue = new Queue<FinalizeJobData>(FINALIZE_QUEUE, {
      ...queueOptions,
      defaultJobOptions: { attempts: 8, backoff: { type: 'exponential', delay: 2_000 }, removeOnComplete: { age: 7 * 86_400 }, removeOnFail: { age: 30 * 86_400 } },
    });
    const webhookQueue = createWebhookQueue(redis, bullPrefix(config.keyPrefix), { attempts: config.webhook.attempts, backoffMs: config.webhook.backoffMs });
    // Without a listener BullMQ prints every connection error (a Redis restart) as a stack trace.
    for (const queue of [verifyQueue, finalizeQueue, webhookQueue] as Queue[]) queue.on('error', (err) => said.warn(err, { queue: queue.name }, 'queue connection error'));
    // sender.blocked (issues 14/15): the recorder calls this once per block per list, the first time any process records it.
    const onNewAlert = (listId: string, alert: SenderAlert) => notifySenderBlocked(webhookQueue, store, listId, alert);
    const built = buildVerifier(options, redis, trouble, onNewAlert);
    const verifier = observeOutcomes(built.verifier, options.onOutcomes);
    const runtime = new HygieneRuntime(config, logger, redis, store, verifyQueue, finalizeQueue, verifier, webhookQueue, built.guard, options.onListFailed);
    runtime.said = said;
    if (options.verifyWorkers) runtime.startVerifyWorker(options.redisUrl);
    if (options.finalizeWorker) runtime.startFinalizeWorker(options.redisUrl, options.onListFinished, options.onListFailed);
    return runtime;
  }

  private workerConnection(url: string, name: string): Redis {
    const client = createRedisClient(url, name);
    client.on('error', (err) => this.said.warn(err, {}, 'redis connection error'));
    this.extraClients.push(client);
    return client;
  }

  private startVerifyWorker(url: string): void {
    const { config } = this;
    const processor = createVerifyProcessor({
      redis: this.redis,
      store: this.store,
      verifier: this.verifier,
      verifyQueue: this.verifyQueue,
      finalizeQueue: this.finalizeQueue,
      greylistMaxAttempts: config.greylist.maxAttempts,
      pauseRetries: config.smtp.pauseRetries,
      logger: this.logger,
      stoppedBy: () => this.faultGuard?.error ?? null,
      failList: (listId, error) => this.failList(listId, error),
    });
    const worker = new Worker<VerifyJobData>(VERIFY_QUEUE, processor, {
      connection: this.workerConnection(url, 'hygiene-verify-worker'),
      prefix: bullPrefix(config.keyPrefix),
      concurrency: config.queue.concurrency,
      stalledInterval: config.queue.stalledIntervalMs,
      lockDuration: config.queue.lockDurationMs,
      maxStalledCount: 3,
    });
    worker.on('failed', (job, err) => {
      this.said.error(err, { jobId: job?.id, listId: job?.data.listId, attempts: job?.attemptsMade }, 'verify job failed');
      // Out of attempts: settle its addresses as unknown so the list still completes.
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
        void settleFailedVerifyJob({ redis: this.redis, store: this.store, finalizeQueue: this.finalizeQueue, logger: this.logger }, job, err).catch((e: unknown) =>
          this.logger.error({ jobId: job.id, err: (e as Error).message }, 'could not settle a failed verify job'),
        );
      }
    });
    worker.on('error', (err) => this.said.warn(err, {}, 'verify worker error'));
    this.workers.push(worker);
  }

  private startFinalizeWorker(
    url: string,
    onFinished?: (report: ListReport) => Promise<void> | void,
    onFailed?: (listId: string, error: string) => Promise<void> | void,
  ): void {
    const processor = createFinalizeProcessor({
      redis: this.redis,
      store: this.store,
      logger: this.logger,
      onFinished: async (report) => {
        // Queued before the caller's hook: the event must not depend on which process finished the list.
        await notifyListWebhook(this.webhookQueue, this.store, report.listId, 'list.completed', completedPayload(report)).catch((err: unknown) =>
          this.logger.warn({ listId: report.listId, err: (err as Error).message }, 'could not queue the completion webhook'),
        );
        await onFinished?.(report);
      },
    });
    const worker = new Worker<FinalizeJobData>(FINALIZE_QUEUE, processor, {
      connection: this.workerConnection(url, 'hygiene-finalize-worker'),
      prefix: bullPrefix(this.config.keyPrefix),
      concurrency: 2,
      stalledInterval: this.config.queue.stalledIntervalMs,
      lockDuration: this.config.queue.lockDurationMs,
      // Collecting is idempotent (outputs are renamed into place only when complete), so a finalize
      // job whose lock lapsed (a dead process, or a busy machine that renewed it late) is simply
      // collected again; BullMQ's default of 1 stall failed the whole list on the second one.
      maxStalledCount: 3,
    });
    worker.on('failed', (job: Job<FinalizeJobData> | undefined, err) => {
      this.said.error(err, { jobId: job?.id, listId: job?.data.listId }, 'finalize job failed');
      // An UnrecoverableError is final at once (the input changed: retrying cannot help).
      if (job && (job.attemptsMade >= (job.opts.attempts ?? 1) || err instanceof UnrecoverableError)) {
        const { listId } = job.data;
        const fields: Record<string, string> = { error: err.message };
        if (isHygieneError(err.cause)) fields.errorCode = err.cause.code;
        void this.store
          .setState(listId, 'failed', fields)
          .then(() => notifyListWebhook(this.webhookQueue, this.store, listId, 'list.failed', failedPayload(listId, err.message)))
          .then(() => onFailed?.(listId, err.message))
          .catch((hookErr: unknown) => this.logger.warn({ listId, err: (hookErr as Error).message }, 'list failure hook failed'));
      }
    });
    worker.on('error', (err) => this.said.warn(err, {}, 'finalize worker error'));
    this.workers.push(worker);
  }

  /**
   * Fails a list because of our own fault (a tripped fault guard): state failed with the error and
   * its code (the CLI exits 1 with the message), its waiting and delayed verify jobs taken off the
   * queue (nothing more to probe), the list.failed webhook and the caller's hook. Idempotent.
   */
  async failList(listId: string, error: HygieneError): Promise<void> {
    const list = await this.store.get(listId);
    if (!list || list.state === 'failed' || list.state === 'done') return;
    await this.store.setState(listId, 'failed', { error: error.message, errorCode: error.code });
    // Best effort: jobs left queued find the list failed and stop on their own.
    const jobIds = await this.redis.smembers(this.store.keys(listId).jobs).catch(() => [] as string[]);
    // remove() leaves active (locked) jobs alone; they finish and find the list failed.
    await Promise.all(jobIds.map((id) => this.verifyQueue.remove(id).catch(() => 0)));
    await notifyListWebhook(this.webhookQueue, this.store, listId, 'list.failed', failedPayload(listId, error.message)).catch((err: unknown) =>
      this.logger.warn({ listId, err: (err as Error).message }, 'could not queue the failure webhook'),
    );
    await Promise.resolve(this.onListFailed?.(listId, error.message)).catch((err: unknown) => this.logger.warn({ listId, err: (err as Error).message }, 'list failure hook failed'));
    this.logger.error({ listId, code: error.code }, 'list stopped: our own fault, not the addresses\'');
  }

  /** Per-MX session figures of this process (benchmarks, `hygiene probe`). */
  poolStats() {
    return 'poolStats' in this.verifier ? (this.verifier as SmtpVerifier).poolStats() : new Map();
  }

  /** Per outbound identity: its pools' session figures summed (issue 15 visibility). */
  identityStats(): Map<string, PoolStats> {
    return 'identityStats' in this.verifier ? (this.verifier as SmtpVerifier).identityStats() : new Map();
  }

  /** Shutdown: once, in order, and every step runs even when an earlier one fails. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['workers', () => Promise.all(this.workers.map((w) => w.close()))],
      ['verifier', async () => this.verifier.close?.()],
      ['queues', () => Promise.all([this.verifyQueue.close(), this.finalizeQueue.close(), this.webhookQueue.close()])],
      ['redis', () => Promise.all([this.redis, ...this.extraClients].map((c) => c.quit().catch(() => c.disconnect())))],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (err) {
        this.logger.warn({ step: name, err: (err as Error).message }, 'shutdown step failed');
      }
    }
  }
}

/** Where an error goes: its own line, or the calm once-per-interval line when Redis refuses writes or is gone. */
interface RedisAwareLog {
  warn(err: Error, fields: Record<string, unknown>, message: string): void;
  error(err: Error, fields: Record<string, unknown>, message: string): void;
}

function redisAware(logger: Logger, trouble: TroubleLog): RedisAwareLog {
  const say = (level: 'warn' | 'error') => (err: Error, fields: Record<string, unknown>, message: string) => {
    if (isRedisRefusal(err)) {
      trouble.warn({ ...fields, err: err.message, while: message }, REDIS_REFUSES_MESSAGE);
      return;
    }
    logger[level]({ ...fields, err: err.message }, message);
  };
  return { warn: say('warn'), error: say('error') };
}

function buildVerifier(options: RuntimeOptions, redis: Redis, trouble: TroubleLog, onNewAlert?: (listId: string, alert: SenderAlert) => Promise<void>): { verifier: BatchVerifier; guard: FaultGuard | null } {
  const { config, logger } = options;
  if (options.verifier && typeof options.verifier === 'object') return { verifier: options.verifier, guard: null };
  // Bounce-log suppression (src/bounces): suppressed addresses are answered without probing.
  const suppression = createSuppressionStore(redis, config.keyPrefix);
  const isSuppressed = (keys: string[]) => suppression.isSuppressed(keys);
  if (options.verifier === 'syntax') return { verifier: withSuppression(createSyntaxOnlyVerifier(), isSuppressed), guard: null };
  // Throws CONFIG_INVALID (one line naming HYGIENE_HELO_NAME) when there is no HELO name: no way in probes without one.
  const identity = probeIdentity(config);
  // One pool per (MX host, outbound identity): probes are routed to the identities a provider allows.
  const proxies = config.smtp.identities.filter((i) => i.kind === 'socks5');
  const dnsResolver = options.resolver ?? createDnsMxResolver({ servers: [...config.dns.servers], timeoutMs: config.dns.timeoutMs, tries: config.dns.tries });
  const guard = new FaultGuard({
    smtpPort: config.smtp.port,
    heloName: identity.heloName,
    mailFrom: identity.mailFrom,
    dns: { servers: config.dns.servers, canaries: config.dns.canaries, resolver: dnsResolver },
    // With several identities the guard stops the run only when every identity's proxy failed (identity-health.ts).
    proxy: proxies.length > 0 ? { display: proxies.map((p) => p.display).join(', '), setting: proxies[0]!.setting } : undefined,
    logger,
  });
  // The guard sees every real lookup (under the cache); negative answers are cached only once DNS has
  // proven healthy. A caller's resolver (`hygiene probe`: what it shows is what was used) is not cached.
  const resolver = options.resolver
    ? observedResolver(options.resolver, guard)
    : createCachedMxResolver(observedResolver(dnsResolver, guard), redis, {
        keyPrefix: config.keyPrefix,
        ttlSeconds: config.dns.cacheTtlSeconds,
        negativeTtlSeconds: Math.min(config.dns.cacheTtlSeconds, 900),
        unknownTtlSeconds: 0,
        mayCacheNegative: () => guard.dnsHealthy && guard.error === null,
      });
  const stats = createMxStatsRecorder(redis, config.keyPrefix, {
    onNewAlert,
    onError: (err, listId) => trouble.warn({ listId, err: err.message }, 'could not record a sender-block alert'),
    onFlushError: (err) => trouble.warn({ err: err.message }, 'could not record report counters (sessions, RCPTs per MX, provider, identity); report figures may be low'),
  });
  const matcher = compileProviderMatcher(config.providers);
  const health = new IdentityHealth({
    identities: config.smtp.identities.map((i) => ({ id: i.id, display: i.display, setting: i.setting })),
    forward: (outcome) => guard.recordProxyOutcome(outcome),
    stopRun: (error) => guard.stopOutbound(error),
    logger,
  });
  const settings = { ...config.smtp, ...identity, timeouts: { ...config.smtp.timeouts } };
  const identities = config.smtp.identities.map((i) => ({
    id: i.id,
    settings: {
      ...settings,
      identity: i.id,
      heloName: i.heloName ?? identity.heloName,
      mailFrom: i.mailFrom ?? identity.mailFrom,
      localAddress: i.localAddress,
      connector: connectorFor(i, { onOutcome: (outcome) => health.record(i.id, outcome) }),
    },
  }));
  // With several identities a block signature (one IP listed or banned) is the sender-block breaker's
  // business: that identity rests for that provider and the others carry on (rows become
  // policy_block only when every allowed identity rests). The run-wide refusal guard
  // (OUTBOUND_SMTP_REFUSED) keeps every other refusal of us. With one identity it sees them all, as
  // before: the first MX hosts all refusing our only IP stop the run.
  const guardEvents: PoolEvents =
    identities.length > 1
      ? {
          ...guard.poolEvents,
          onClientAnswer: (mx, answer) => {
            if (answer.refusesUs && answer.reply && blockSignatureOf(config.providers, matcher.providerOf([mx]), answer.reply)) return;
            guard.poolEvents.onClientAnswer?.(mx, answer);
          },
        }
      : guard.poolEvents;
  const verifier = createSmtpVerifier({
    resolver,
    cache: createVerdictCache(redis, config.keyPrefix, config.cache),
    catchAll: new CatchAllRegistry(redis, config.keyPrefix, config.cache.positiveTtlSeconds, config.smtp.catchAllProbe, Math.min(10_000, Math.floor(config.greylist.retryDelayMs * 0.9))),
    greylistRetryMs: config.greylist.retryDelayMs,
    suggestVariants: config.smtp.suggestVariants,
    busyRetryMs: config.smtp.backoffMs,
    isSuppressed,
    logger,
    guard,
    matcher,
    identities,
    availability: health,
    // Every identity resting for a provider: wait when the rest ends within 5 minutes (and the longest
    // MX pause), as for a pause; a longer block makes its rows unknown/policy_block at once (never rejected).
    maxRestWaitMs: Math.min(5 * 60_000, config.smtp.pauseMaxMs),
    pool: {
      settings: identities[0]!.settings,
      providers: config.providers,
      matcher,
      rules: createSessionRuleStore(redis, { keyPrefix: config.keyPrefix, logger: trouble }),
      blocks: createSenderBlockStore(redis, { keyPrefix: config.keyPrefix, logger: trouble }),
      leases: createMxLeaseManager(redis, {
        keyPrefix: config.keyPrefix,
        limit: config.smtp.maxSessionsPerMx,
        ttlMs: config.smtp.leaseTtlMs,
        onLost: (server, why) => trouble.warn({ server, why }, 'MX session lease lost; its session ends before its next window'),
      }),
      rateLimiter: createRcptRateLimiter(redis, config.keyPrefix, config.smtp.rcptPerSecondPerMx),
      pauses: createMxPauseStore(redis, { keyPrefix: config.keyPrefix, baseMs: config.smtp.pauseMs, maxMs: config.smtp.pauseMaxMs, logger: trouble }),
      sessionStarts: createSessionStartBudget(redis, { keyPrefix: config.keyPrefix, perMinute: config.smtp.sessionsPerMinute, burst: config.smtp.sessionBurst, logger: trouble }),
      logger,
      trouble,
      events: combinePoolEvents(combinePoolEvents(stats.events, guardEvents), options.poolEvents),
    },
  });
  // Counters reach Redis before the job is marked done, so the report always includes them.
  const wrapped = {
    poolStats: () => verifier.poolStats(),
    identityStats: () => verifier.identityStats(),
    verify: async (batch, signal) => {
      try {
        return await verifier.verify(batch, signal);
      } finally {
        await stats.flush();
      }
    },
    close: async () => {
      await verifier.close?.();
      await stats.flush();
    },
  } as SmtpVerifier;
  return { verifier: wrapped, guard };
}

/** Both sets of hooks run (a caller's poolEvents must not replace the report's counters). */
function combinePoolEvents(a: PoolEvents, b: PoolEvents | undefined): PoolEvents {
  if (!b) return a;
  const names = new Set([...Object.keys(a), ...Object.keys(b)] as Array<keyof PoolEvents>);
  const combined: Record<string, (...args: never[]) => void> = {};
  for (const name of names) {
    const first = a[name] as ((...args: unknown[]) => void) | undefined;
    const second = b[name] as ((...args: unknown[]) => void) | undefined;
    combined[name] = (...args: unknown[]) => {
      first?.(...args);
      second?.(...args);
    };
  }
  return combined as PoolEvents;
}

/** Wraps a verifier so `onOutcomes` sees every batch; keeps poolStats() and identityStats() when the verifier has them. */
function observeOutcomes(verifier: BatchVerifier, onOutcomes: RuntimeOptions['onOutcomes']): BatchVerifier {
  if (!onOutcomes) return verifier;
  const observed: BatchVerifier & { poolStats?: () => unknown; identityStats?: () => unknown } = {
    verify: async (batch, signal) => {
      const outcomes = await verifier.verify(batch, signal);
      onOutcomes(batch, outcomes);
      return outcomes;
    },
    close: async () => verifier.close?.(),
  };
  if ('poolStats' in verifier) observed.poolStats = () => (verifier as SmtpVerifier).poolStats();
  if ('identityStats' in verifier) observed.identityStats = () => (verifier as SmtpVerifier).identityStats();
  return observed;
}

