/**
 * Webhook delivery through a BullMQ queue named "webhook" (BullMQ prefix "{p}:bull", like the verify
 * and finalize queues), so pending deliveries and their retries survive a restart. Each event has a
 * deterministic job id ("{listId}-{event}", plus the block's id for sender.blocked), so a completion
 * (or a block) seen twice is delivered once.
 *
 * A delivery is a JSON POST signed twice (webhook-signature.ts): `Hygiene-Signature: t=<unix>,v1=<hex>`
 * (the attempt's timestamp signed with the body) and the legacy `X-Hygiene-Signature: sha256=<hex>`
 * with `X-Hygiene-Timestamp`. Any 2xx is success, anything else (or no status line within the
 * deadline) is retried with exponential backoff up to the configured attempts. Redirects are not
 * followed (a redirect could point at an internal address). Every attempt is logged with list id,
 * URL (without its query string, which may hold a token), status and attempt number.
 *
 * A slow receiver must not hold up other lists' events: each attempt has ONE total deadline (DNS,
 * connect, sending, the answer's status line), not an idle timeout that a receiver dripping a byte
 * at a time keeps resetting; the answer's body is never read. Deliveries run concurrently (bounded
 * by `concurrency`), so a few stuck receivers delay nobody, and many delay others by at most the
 * deadline.
 */
import http from 'node:http';
import https from 'node:https';
import { UnrecoverableError, Worker, type Job, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { isHygieneError } from '../errors.ts';
import { SIGNATURE_HEADER, TIMESTAMPED_SIGNATURE_HEADER, TIMESTAMP_HEADER, signWebhookBody, signWebhookDelivery } from './webhook-signature.ts';
import { checkWebhookUrl, checkedLookup, type WebhookUrlPolicy } from './webhook-url-policy.ts';
import { WEBHOOK_QUEUE, createWebhookQueue, queueWebhook, type WebhookEvent, type WebhookJobData } from './list-webhooks.ts';

export { WEBHOOK_QUEUE, type WebhookEvent, type WebhookJobData };

export interface WebhookDispatcherOptions {
  /** Shared client for the queue. */
  connection: Redis;
  /** BullMQ prefix ("{p}:bull"). */
  prefix: string;
  secret: string | undefined;
  attempts: number;
  backoffMs: number;
  policy: WebhookUrlPolicy;
  logger: Logger;
  /** Total deadline of one attempt (default 10 s). */
  timeoutMs?: number;
  /** Deliveries in flight at once in this process (default 16). */
  concurrency?: number;
}

/** The URL as it may appear in logs: no query string or fragment. */
export function loggableUrl(raw: string): string {
  try {
    const url = new URL(raw);
    return `${url.origin}${url.pathname}`;
  } catch {
    return '(invalid url)';
  }
}

export class WebhookDispatcher {
  readonly queue: Queue<WebhookJobData>;
  private worker: Worker<WebhookJobData> | null = null;

  constructor(private readonly options: WebhookDispatcherOptions) {
    this.queue = createWebhookQueue(options.connection, options.prefix, { attempts: options.attempts, backoffMs: options.backoffMs });
  }

  get enabled(): boolean {
    return this.options.secret !== undefined;
  }

  /** Queues one event; `payload` is serialised once here and signed at each attempt. */
  async enqueue(listId: string, url: string, event: WebhookEvent, payload: Record<string, unknown>): Promise<void> {
    await queueWebhook(this.queue, listId, url, event, payload);
  }

  /** Starts delivering; `connection` must be a client of its own (BullMQ workers block on it). */
  startWorker(connection: Redis): void {
    this.worker = new Worker<WebhookJobData>(WEBHOOK_QUEUE, (job) => this.deliver(job), { connection, prefix: this.options.prefix, concurrency: this.options.concurrency ?? 16 });
    this.worker.on('error', (err) => this.options.logger.warn({ err: err.message }, 'webhook worker error'));
  }

  private async deliver(job: Job<WebhookJobData>): Promise<{ status: number }> {
    const { listId, url, body, event } = job.data;
    const attempt = job.attemptsMade + 1;
    const log = this.options.logger.child({ listId, url: loggableUrl(url), event, attempt });
    const secret = this.options.secret;
    if (secret === undefined) {
      log.error('webhook not delivered: HYGIENE_WEBHOOK_SECRET is not set');
      throw new UnrecoverableError('HYGIENE_WEBHOOK_SECRET is not set');
    }
    let target: URL;
    try {
      target = await checkWebhookUrl(url, this.options.policy);
    } catch (err) {
      log.error({ err: (err as Error).message }, 'webhook target refused');
      throw new UnrecoverableError((err as Error).message);
    }
    const started = Date.now();
    const timestamp = Math.floor(started / 1000);
    try {
      const status = await post(target, body, {
        'content-type': 'application/json',
        'user-agent': 'list-hygiene-webhook/1',
        [TIMESTAMPED_SIGNATURE_HEADER]: signWebhookDelivery(secret, body, timestamp),
        [SIGNATURE_HEADER]: signWebhookBody(secret, body),
        [TIMESTAMP_HEADER]: String(timestamp),
      }, this.options.policy, this.options.timeoutMs ?? 10_000);
      const ms = Date.now() - started;
      if (status >= 200 && status < 300) {
        log.info({ status, ms }, 'webhook delivered');
        return { status };
      }
      log.warn({ status, ms, attemptsLeft: (job.opts.attempts ?? 1) - attempt }, 'webhook attempt failed');
      throw new Error(`webhook answered ${status}`);
    } catch (err) {
      if (isHygieneError(err, 'WEBHOOK_URL_REFUSED')) {
        log.error({ err: err.message }, 'webhook target refused at connect time');
        throw new UnrecoverableError(err.message);
      }
      if (!(err instanceof Error && err.message.startsWith('webhook answered'))) {
        log.warn({ status: null, err: (err as Error).message, ms: Date.now() - started, attemptsLeft: (job.opts.attempts ?? 1) - attempt }, 'webhook attempt failed');
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}

/**
 * One attempt: resolves with the answer's status code once its status line and headers are in, or
 * rejects at `deadlineMs` after the start whatever the receiver is still sending. The connection is
 * not kept alive (agent: false) and the answer's body is not read: it is closed with the request.
 */
function post(url: URL, body: string, headers: Record<string, string>, policy: WebhookUrlPolicy, deadlineMs: number): Promise<number> {
  const client = url.protocol === 'https:' ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, {
      method: 'POST',
      headers: { ...headers, 'content-length': String(Buffer.byteLength(body)) },
      lookup: checkedLookup(policy),
      agent: false,
    });
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within the ${deadlineMs} ms deadline`)), deadlineMs);
    req.on('response', (res) => {
      clearTimeout(deadline);
      resolve(res.statusCode ?? 0);
      // The status is all we wanted; an "aborted" error from closing the rest of the answer is expected.
      res.on('error', () => undefined);
      res.destroy();
    });
    req.on('error', (err) => {
      clearTimeout(deadline);
      reject(err);
    });
    req.end(body);
  });
}
