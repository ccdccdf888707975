/**
 * The list.completed and list.failed webhook events: their payloads and how they are queued.
 *
 * Queued by whichever process finishes (or gives up on) a list, not only by API processes: in a
 * fleet the API usually runs with --no-workers and the finalize step runs in a `hygiene worker`, so
 * an event queued from the API's own hooks was never sent for those lists. Delivery stays with the
 * WebhookDispatcher worker that every API process runs. The job id is the list and the event, so an
 * event queued twice is sent once.
 */
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { ListReport } from '../collector/report.ts';
import { withoutServerPaths } from '../domain/public-text.ts';
import type { ListStore } from '../queue/list-store.ts';

export const WEBHOOK_QUEUE = 'webhook';

export type WebhookEvent = 'list.completed' | 'list.failed';

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

/** Queues one event; `payload` is serialised once here and signed at each delivery attempt. */
export async function queueWebhook(queue: Queue<WebhookJobData>, listId: string, url: string, event: WebhookEvent, payload: Record<string, unknown>): Promise<void> {
  const body = JSON.stringify({ event, listId, createdAt: new Date().toISOString(), ...payload });
  await queue.add(event, { listId, url, event, body }, { jobId: `${listId}-${event.replace('.', '-')}` });
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
export async function notifyListWebhook(queue: Queue<WebhookJobData>, store: ListStore, listId: string, event: WebhookEvent, payload: Record<string, unknown>): Promise<void> {
  const url = (await store.get(listId))?.options.webhookUrl;
  if (url) await queueWebhook(queue, listId, url, event, payload);
}
