/**
 * `hygiene api` as a unit: a HygieneRuntime (verify + finalize workers unless `workers: false`),
 * metrics fed by its hooks, the webhook queue and its worker, and the HTTP server. The CLI command and
 * the tests both start it here. Shutdown runs once, in order: stop taking requests, stop webhook
 * delivery, then the runtime (workers finish or hand back their jobs), then the webhook worker's
 * Redis client; every step runs even when an earlier one fails.
 */
import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import type { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { HygieneRuntime, type RuntimeOptions } from '../app/runtime.ts';
import type { Config } from '../config/config.ts';
import { createHygieneMetrics, type HygieneMetrics } from '../metrics/hygiene-metrics.ts';
import { bullPrefix } from '../store/redis-keys.ts';
import { failedPayload, notifyListWebhook } from '../webhook/list-webhooks.ts';
import { WebhookDispatcher } from '../webhook/webhook-dispatcher.ts';
import { buildApiServer } from './api-server.ts';

export interface ApiServiceOptions {
  config: Config;
  logger: Logger;
  redisUrl: string;
  /** Run verify + finalize workers in this process (default true; false = API-only node). */
  workers?: boolean;
  /** Verifier override ('syntax' or a test's); default the SMTP engine. */
  verifier?: RuntimeOptions['verifier'];
  /** Listen on config.api.host:port (default true; false = use app.inject only). */
  listen?: boolean;
}

export interface ApiService {
  readonly app: FastifyInstance;
  readonly runtime: HygieneRuntime;
  readonly metrics: HygieneMetrics;
  readonly webhooks: WebhookDispatcher;
  /** http://host:port once listening. */
  readonly url: string;
  close(): Promise<void>;
}

export async function startApiService(options: ApiServiceOptions): Promise<ApiService> {
  const { config, logger } = options;
  const metrics = createHygieneMetrics();
  let runtime: HygieneRuntime | null = null;

  // Failures of a parse pass run by this API process (the route and the take-over of orphaned
  // lists). Finalize failures and completions are queued by the runtime of whichever process
  // finishes the list (list-webhooks.ts), so they are only counted here.
  const onListFailed = async (listId: string, error: string): Promise<void> => {
    metrics.listFailed();
    if (!runtime) return;
    await notifyListWebhook(runtime.webhookQueue, runtime.store, listId, 'list.failed', failedPayload(listId, error)).catch((err: unknown) =>
      logger.warn({ listId, err: (err as Error).message }, 'could not queue the failure webhook'),
    );
  };

  const workers = options.workers ?? true;
  runtime = await HygieneRuntime.start({
    config,
    logger,
    redisUrl: options.redisUrl,
    verifyWorkers: workers,
    finalizeWorker: workers,
    verifier: options.verifier ?? 'smtp',
    poolEvents: metrics.poolEvents,
    onOutcomes: (batch, outcomes) => metrics.observeOutcomes(batch, outcomes),
    onListFinished: (report) => metrics.listFinished(report),
    onListFailed: () => metrics.listFailed(),
  });
  const rt = runtime;
  const dispatcher = new WebhookDispatcher({
    connection: rt.redis,
    prefix: bullPrefix(config.keyPrefix),
    secret: config.webhook.secret,
    attempts: config.webhook.attempts,
    backoffMs: config.webhook.backoffMs,
    policy: { allowPrivate: config.webhook.allowPrivate },
    logger: logger.child({ component: 'webhook' }),
    timeoutMs: config.webhook.timeoutMs,
    concurrency: config.webhook.concurrency,
  });
  // BullMQ workers block on their connection: the webhook worker gets a client of its own.
  const webhookConnection: Redis = rt.redis.duplicate({ connectionName: 'hygiene-webhook-worker' });
  webhookConnection.on('error', (err) => logger.warn({ err: err.message }, 'redis connection error'));
  dispatcher.startWorker(webhookConnection);
  metrics.watchQueues([rt.verifyQueue, rt.finalizeQueue, dispatcher.queue]);
  metrics.watchPools(() => rt.poolStats());

  let app: FastifyInstance;
  let url = '';
  try {
    app = await buildApiServer({ config, logger, runtime: rt, metrics, webhooks: dispatcher, onListFailed });
    if (options.listen !== false) {
      await app.listen({ port: config.api.port, host: config.api.host });
      const address = app.server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
    } else {
      await app.ready();
    }
  } catch (err) {
    // Start-up already failed with `err` (rethrown below); a failing close must not hide it.
    await dispatcher.close().catch(() => undefined);
    await rt.close();
    webhookConnection.disconnect();
    throw err;
  }

  let closed = false;
  return {
    app,
    runtime: rt,
    metrics,
    webhooks: dispatcher,
    url,
    async close() {
      if (closed) return;
      closed = true;
      const steps: Array<[string, () => Promise<unknown>]> = [
        ['http', () => app.close()],
        ['webhooks', () => dispatcher.close()],
        ['runtime', () => rt.close()],
        ['webhook redis', () => webhookConnection.quit().catch(() => webhookConnection.disconnect())],
      ];
      for (const [name, step] of steps) {
        try {
          await step();
        } catch (err) {
          logger.warn({ step: name, err: (err as Error).message }, 'shutdown step failed');
        }
      }
    },
  };
}
