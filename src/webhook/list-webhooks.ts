/**
 * The list.completed, list.failed and sender.blocked webhook events: their payloads and how they are
 * queued.
 *
 * Queued by whichever process finishes (or gives up on) a list, not only by API processes: in a
 * fleet the API usually runs with --no-workers and the finalize step runs in a `hygiene worker`, so
 * an event queued from the API's own hooks was never sent for those lists. Delivery stays with the
 * WebhookDispatcher worker that every API process runs. The job id is the list and the event (and,
 * for sender.blocked, the block), so an event queued twice is sent once.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { createHash } from 'node:crypto';
import type { ListReport, SenderAlert } from '../collector/report.ts';
import { withoutServerPaths } from '../domain/public-text.ts';
import type { ListStore } from '../queue/list-store.ts';

export const WEBHOOK_QUEUE = 'webhook';

export type WebhookEvent = 'list.completed' | 'list.failed' | 'sender.blocked';

export interface WebhookJobData {
  listId: string;
  url: string;
  event: WebhookEvent;
  /** The exact bytes sent and signed (built once, so every retry carries the same signed body). */
  body: string;
}

export function createWebhookQueue(connection: Redis, prefix: string, retry: { attempts: number; backoffMs: number }): Queue<WebhookJobData> {
  return new Queue<WebhookJobData>(WEBHOOK_QUEUE, {
    connection,
    prefix,
    defaultJobOptions: {
      attempts: retry.attempts,
      backoff: { type: 'exponential', delay: retry.backoffMs },
      removeOnComplete: { age: 7 * 86_400 },
      removeOnFail: { age: 30 * 86_400 },
    },
  });
}

/**
 * Queues one event; `payload` is serialised once here and signed at each delivery attempt. `once`
 * tells apart several events of one kind for a list (one sender.blocked per block): it becomes part
 * of the job id, so each is still sent once.
 */
export async function queueWebhook(queue: Queue<WebhookJobData>, listId: string, url: string, event: WebhookEvent, payload: Record<string, unknown>, once?: string): Promise<void> {
  const body = JSON.stringify({ event, listId, createdAt: new Date().toISOString(), ...payload });
  const jobId = `${listId}-${event.replace('.', '-')}${once === undefined ? '' : `-${once}`}`;
  await queue.add(event, { listId, url, event, body }, { jobId });
}

/**
 * The sender.blocked payload: which provider refused which outbound identity, what the block names
 * (blocklist or provider code), what it means, what to do and until when the identity rests. The
 * server's reply is bounded; no file paths, no proxy credentials (an identity is its id).
 */
export function senderBlockedPayload(listId: string, alert: SenderAlert): Record<string, unknown> {
  return {
    provider: alert.provider,
    mx: alert.mx,
    identity: alert.identity,
    blocklist: alert.blocklist,
    code: alert.code,
    signature: alert.signature,
    about: alert.about,
    severity: alert.severity,
    reply: alert.reply.slice(0, 500),
    means: alert.means,
    action: alert.action,
    level: alert.level,
    cooldownUntil: alert.cooldownUntil,
    links: { self: `/v1/lists/${listId}` },
  };
}

/** The job-id part of one block: the same block (provider or MX, identity, level, cooldown end) always gives the same id. */
export function senderBlockId(alert: SenderAlert): string {
  return createHash('sha1').update(`${alert.provider ?? alert.mx}|${alert.identity}|${alert.level}|${alert.cooldownUntil}`).digest('hex').slice(0, 16);
}

/** The list.completed payload: counts and links, never file paths or secrets. */
export function completedPayload(report: ListReport): Record<string, unknown> {
  const self = `/v1/lists/${report.listId}`;
  return {
    state: 'done',
    rows: report.rows,
    cleanedRows: report.cleanedRows,
    rejectedRows: report.rejectedRows,
    uniqueAddresses: report.uniqueAddresses,
    counts: report.counts,
    finishedAt: report.timings.finishedAt,
    links: { self, cleaned: `${self}/cleaned.csv`, rejected: `${self}/rejected.csv`, report: `${self}/report.json` },
  };
}

/** The list.failed payload: the error's first line, bounded, with server paths reduced to file names. */
export function failedPayload(listId: string, error: string): Record<string, unknown> {
  return { state: 'failed', error: withoutServerPaths(error.split('\n')[0] ?? 'failed').slice(0, 500), links: { self: `/v1/lists/${listId}` } };
}

/** Queues the event when the list asked for a webhook (its webhookUrl option); otherwise nothing. */
export async function notifyListWebhook(queue: Queue<WebhookJobData>, store: ListStore, listId: string, event: WebhookEvent, payload: Record<string, unknown>, once?: string): Promise<void> {
  const url = (await store.get(listId))?.options.webhookUrl;
  if (url) await queueWebhook(queue, listId, url, event, payload, once);
}

/** Queues sender.blocked for one block seen by a list, when the list has a webhook. */
export function notifySenderBlocked(queue: Queue<WebhookJobData>, store: ListStore, listId: string, alert: SenderAlert): Promise<void> {
  return notifyListWebhook(queue, store, listId, 'sender.blocked', senderBlockedPayload(listId, alert), senderBlockId(alert));
}
