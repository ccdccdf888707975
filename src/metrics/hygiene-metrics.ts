/**
 * Prometheus metrics of one process (prom-client), on a registry of its own (no global default
 * registry, so two runtimes in one test process never collide). Fed by the runtime's hooks:
 * `poolEvents` (SMTP replies, sessions, exchange latency), `onOutcomes` (probe outcomes) and
 * `onListFinished` (row verdicts); queue depths and per-MX session figures are read when scraped.
 *
 * Names (stable; dashboards depend on them):
 *   hygiene_probe_outcomes_total{status,reason,outcome}  verifier answers (outcome: verdict|retry)
 *   hygiene_verdicts_total{status}                        rows of finished lists, by status
 *   hygiene_lists_finished_total{state}                   lists done / failed
 *   hygiene_smtp_replies_total{class}                     RCPT replies by code class (2xx/4xx/5xx)
 *   hygiene_smtp_sessions_total{mx}                       sessions opened per MX (serving a list)
 *   hygiene_smtp_sessions_closed_total{mx}                sessions closed per MX
 *   hygiene_smtp_exchange_seconds                         wait for one pipelined window's replies
 *   hygiene_queue_jobs{queue,state}                       BullMQ job counts, read at scrape time
 *   hygiene_mx_open_sessions_max{mx}                      most sessions open at once per MX (this process)
 *   hygiene_provider_probe_outcomes_total{provider,status}  verifier answers by the verdict's provider ("none": no provider)
 *   hygiene_provider_verdicts_total{provider,status}      rows of finished lists by hygiene_provider ("none": empty) and status
 *   hygiene_sender_blocks_total{provider,identity,blocklist}  sender blocks (our IP/HELO refused; "none": no provider / no blocklist named)
 *   hygiene_sender_throttles_total{provider,identity}     throttles of our identity (severity throttle)
 *   hygiene_identity_sessions_total{identity}             SMTP sessions that served a list, per outbound identity
 *   hygiene_identity_rcpts_total{identity}                RCPTs answered, per outbound identity
 *   hygiene_identity_cooldowns_total{identity}            probes that waited for, or were moved from, a resting identity
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ListReport } from '../collector/report.ts';
import type { ProbeOutcome, VerifyBatch } from '../domain/verifier.ts';
import type { PoolEvents, PoolStats } from '../probe/mx-session-pool.ts';

/** What the queue-depth gauge needs of a BullMQ queue. */
export interface CountableQueue {
  readonly name: string;
  getJobCounts(...states: string[]): Promise<Record<string, number>>;
}

export interface HygieneMetrics {
  readonly registry: Registry;
  readonly poolEvents: PoolEvents;
  observeOutcomes(batch: VerifyBatch, outcomes: ReadonlyMap<string, ProbeOutcome>): void;
  listFinished(report: ListReport): void;
  listFailed(): void;
  /** Queues whose depth is reported at scrape time. */
  watchQueues(queues: readonly CountableQueue[]): void;
  /** Per-MX pool figures of this process, read at scrape time. */
  watchPools(source: () => ReadonlyMap<string, PoolStats>): void;
  /** Prometheus text exposition. */
  render(): Promise<string>;
  readonly contentType: string;
}

const QUEUE_STATES = ['waiting', 'active', 'delayed', 'failed', 'completed', 'prioritized', 'waiting-children'] as const;

export function createHygieneMetrics(options: { defaultMetrics?: boolean } = {}): HygieneMetrics {
  const registry = new Registry();
  if (options.defaultMetrics !== false) collectDefaultMetrics({ register: registry, prefix: 'hygiene_process_' });
  const queues: CountableQueue[] = [];
  let pools: (() => ReadonlyMap<string, PoolStats>) | null = null;

  const probeOutcomes = new Counter({
    name: 'hygiene_probe_outcomes_total',
    help: 'Verifier answers by status and reason (outcome "retry" = greylisted, asked again later).',
    labelNames: ['status', 'reason', 'outcome'] as const,
    registers: [registry],
  });
  const verdicts = new Counter({ name: 'hygiene_verdicts_total', help: 'Rows of finished lists by status.', labelNames: ['status'] as const, registers: [registry] });
  const lists = new Counter({ name: 'hygiene_lists_finished_total', help: 'Lists finished, by final state.', labelNames: ['state'] as const, registers: [registry] });
  const replies = new Counter({ name: 'hygiene_smtp_replies_total', help: 'RCPT TO replies by code class.', labelNames: ['class'] as const, registers: [registry] });
  const sessions = new Counter({ name: 'hygiene_smtp_sessions_total', help: 'SMTP sessions per MX host (counted when a session serves a list).', labelNames: ['mx'] as const, registers: [registry] });
  const sessionsClosed = new Counter({ name: 'hygiene_smtp_sessions_closed_total', help: 'SMTP sessions closed per MX host.', labelNames: ['mx'] as const, registers: [registry] });
  const providerVerdicts = new Counter({
    name: 'hygiene_provider_verdicts_total',
    help: 'Rows of finished lists by provider (the hygiene_provider column; "none" when empty) and status.',
    labelNames: ['provider', 'status'] as const,
    registers: [registry],
  });
  const providerOutcomes = new Counter({
    name: 'hygiene_provider_probe_outcomes_total',
    help: 'Verifier answers by the provider of the MX that answered ("none" when it matched no provider) and status.',
    labelNames: ['provider', 'status'] as const,
    registers: [registry],
  });
  const senderBlocks = new Counter({
    name: 'hygiene_sender_blocks_total',
    help: 'Sender blocks: a server refused our outbound identity (blocklist, IP ban, HELO, rate); "none" = no provider matched / no blocklist named.',
    labelNames: ['provider', 'identity', 'blocklist'] as const,
    registers: [registry],
  });
  const senderThrottles = new Counter({
    name: 'hygiene_sender_throttles_total',
    help: 'A provider slowed our outbound identity down (throttle signatures: Google unusual rate, Yahoo TSS04); "none" = no provider matched.',
    labelNames: ['provider', 'identity'] as const,
    registers: [registry],
  });
  const identitySessions = new Counter({ name: 'hygiene_identity_sessions_total', help: 'SMTP sessions that served a list, per outbound identity.', labelNames: ['identity'] as const, registers: [registry] });
  const identityRcpts = new Counter({ name: 'hygiene_identity_rcpts_total', help: 'RCPT TO replies, per outbound identity.', labelNames: ['identity'] as const, registers: [registry] });
  const identityCooldowns = new Counter({
    name: 'hygiene_identity_cooldowns_total',
    help: 'Probes that waited for, or were moved from, an outbound identity resting after a block.',
    labelNames: ['identity'] as const,
    registers: [registry],
  });
  const exchange = new Histogram({
    name: 'hygiene_smtp_exchange_seconds',
    help: 'Time waiting for the replies of one pipelined window of probes.',
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  new Gauge({
    name: 'hygiene_queue_jobs',
    help: 'Jobs per BullMQ queue and state (read from Redis at scrape time).',
    labelNames: ['queue', 'state'] as const,
    registers: [registry],
    async collect() {
      this.reset();
      await Promise.all(
        queues.map(async (queue) => {
          // A scrape while Redis is down shows no queue figures rather than failing the whole scrape.
          const counts = await queue.getJobCounts(...QUEUE_STATES).catch(() => null);
          if (!counts) return;
          for (const state of QUEUE_STATES) this.set({ queue: queue.name, state }, counts[state] ?? 0);
        }),
      );
    },
  });
  new Gauge({
    name: 'hygiene_mx_open_sessions_max',
    help: 'Most SMTP sessions open at once per MX host in this process.',
    labelNames: ['mx'] as const,
    registers: [registry],
    collect() {
      this.reset();
      for (const [mx, stats] of pools?.() ?? []) this.set({ mx }, stats.maxConcurrentSessions);
    },
  });

  const poolEvents: PoolEvents = {
    onReply: (_mx, _listId, code) => replies.inc({ class: `${Math.floor(code / 100)}xx` }),
    onSessionForList: (mx) => sessions.inc({ mx }),
    onSessionClosed: (mx) => sessionsClosed.inc({ mx }),
    onExchange: (_mx, _listIds, ms) => exchange.observe(ms / 1000),
    onSenderBlock: (block) => {
      if (block.severity === 'block') senderBlocks.inc({ provider: block.provider ?? 'none', identity: block.identity, blocklist: block.blocklist ?? 'none' });
      else senderThrottles.inc({ provider: block.provider ?? 'none', identity: block.identity });
    },
    onIdentityActivity: (activity) => {
      const by = activity.count ?? 1;
      if (activity.what === 'session') identitySessions.inc({ identity: activity.identity }, by);
      else if (activity.what === 'rcpt') identityRcpts.inc({ identity: activity.identity }, by);
      else if (activity.what === 'cooldown') identityCooldowns.inc({ identity: activity.identity }, by);
    },
  };

  return {
    registry,
    poolEvents,
    contentType: registry.contentType,
    observeOutcomes(_batch, outcomes) {
      for (const outcome of outcomes.values()) {
        probeOutcomes.inc({ status: outcome.verdict.status, reason: outcome.verdict.reason, outcome: outcome.kind });
        if (outcome.kind === 'verdict') providerOutcomes.inc({ provider: outcome.verdict.provider || 'none', status: outcome.verdict.status });
      }
    },
    listFinished(report) {
      lists.inc({ state: 'done' });
      for (const [status, count] of Object.entries(report.counts.byStatus)) verdicts.inc({ status }, count ?? 0);
      for (const [provider, figures] of Object.entries(report.providers ?? {})) {
        for (const [status, count] of Object.entries(figures.byStatus)) providerVerdicts.inc({ provider, status }, count ?? 0);
      }
      // Rows without a provider, so the per-provider series add up to hygiene_verdicts_total.
      const without = report.counts.byProvider?.none ?? 0;
      if (without > 0) {
        const withProvider: Record<string, number> = {};
        for (const figures of Object.values(report.providers ?? {})) for (const [status, n] of Object.entries(figures.byStatus)) withProvider[status] = (withProvider[status] ?? 0) + (n ?? 0);
        for (const [status, count] of Object.entries(report.counts.byStatus)) {
          const rest = (count ?? 0) - (withProvider[status] ?? 0);
          if (rest > 0) providerVerdicts.inc({ provider: 'none', status }, rest);
        }
      }
    },
    listFailed() {
      lists.inc({ state: 'failed' });
    },
    watchQueues(list) {
      queues.push(...list);
    },
    watchPools(source) {
      pools = source;
    },
    render: () => registry.metrics(),
  };
}
