/**
 * The HTTP API (fastify 5): routes, API-key auth, per-key rate limit, error shape, OpenAPI document,
 * /healthz, /metrics and the queue dashboard. Receives everything it talks to (runtime, metrics,
 * webhooks); builds no clients of its own.
 *
 * Public (no key): GET /healthz, GET /openapi.json. Everything else needs a key, including /metrics
 * and /admin/queues. Keys are never logged: the request serializer's headers are redacted, and so
 * are query-string values (loggableRequestUrl).
 */
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import multipart from '@fastify/multipart';
import rateLimit from '@fastify/rate-limit';
import swagger from '@fastify/swagger';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { HygieneRuntime } from '../app/runtime.ts';
import type { Config } from '../config/config.ts';
import type { HygieneMetrics } from '../metrics/hygiene-metrics.ts';
import type { WebhookDispatcher } from '../webhook/webhook-dispatcher.ts';
import { createKeyChecker, keyLabel, presentedKey } from './api-auth.ts';
import { ApiError, toErrorResponse } from './api-errors.ts';
import { registerListRoutes } from './list-routes.ts';
import { registerVerifyRoute } from './verify-route.ts';

export interface ApiServerDeps {
  config: Config;
  logger: Logger;
  runtime: HygieneRuntime;
  metrics: HygieneMetrics;
  webhooks: WebhookDispatcher;
  onListFailed: (listId: string, error: string) => Promise<void>;
}

/** Header paths pino replaces with "[redacted]" wherever a request is logged. */
export const REDACTED_PATHS = [
  'req.headers["x-api-key"]',
  'req.headers.authorization',
  'req.headers.cookie',
  'headers["x-api-key"]',
  'headers.authorization',
];

/** Query parameters whose values are logged; every other value (a key, a token, a webhook URL) is not. */
const LOGGED_QUERY_PARAMS = new Set(['emailColumn', 'reject', 'name', 'limit', 'cursor']);

/**
 * A request URL as it may appear in logs: keys are only accepted in headers, but clients (and
 * proxies) put them in query strings anyway (`?api_key=...`), and webhook URLs carry tokens; so
 * every query value not known to be harmless is replaced, whatever its name.
 */
export function loggableRequestUrl(url: string | undefined): string | undefined {
  if (url === undefined) return undefined;
  const cut = url.indexOf('?');
  if (cut < 0) return url;
  const params = [...new URLSearchParams(url.slice(cut + 1))].map(([name, value]) =>
    `${encodeURIComponent(name)}=${LOGGED_QUERY_PARAMS.has(name) ? encodeURIComponent(value) : '[redacted]'}`,
  );
  return `${url.slice(0, cut)}?${params.join('&')}`;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    /** No API key needed (health checks, the OpenAPI document). */
    public?: boolean;
  }
  interface FastifyRequest {
    /** keyLabel() of the request's valid API key ('' on public routes). */
    apiKeyLabel: string;
  }
}

export async function buildApiServer(deps: ApiServerDeps): Promise<FastifyInstance> {
  const { config, runtime, metrics } = deps;
  const logger = deps.logger.child(
    { component: 'api' },
    {
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      // Headers are logged (content type and length explain most upload problems); keys are redacted.
      serializers: {
        req: (req: { method?: string; url?: string; headers?: Record<string, unknown>; ip?: string; socket?: { remoteAddress?: string } }) => ({
          method: req.method,
          url: loggableRequestUrl(req.url),
          headers: { ...req.headers },
          remoteAddress: req.ip ?? req.socket?.remoteAddress,
        }),
      },
    },
  );
  const app = Fastify({
    loggerInstance: logger,
    // Bodies of other routes are small JSON; CSV uploads are streamed and limited by the route.
    bodyLimit: 64 * 1024,
    trustProxy: false,
    // Backstop for every request (Node checks it every 30 s); uploads have a precise watchdog of their own.
    requestTimeout: config.api.requestTimeoutMs,
    // The pino Logger type makes a FastifyInstance<..., Logger>; route modules take the plain type.
  }) as unknown as FastifyInstance;

  const checkKey = createKeyChecker(config.api.keys);
  // Auth runs before everything else (before the rate limit, so buckets are per valid key).
  app.decorateRequest('apiKeyLabel', '');
  app.addHook('onRequest', async (req) => {
    if (req.routeOptions.config?.public === true) return;
    req.apiKeyLabel = checkKey(req.headers);
  });

  app.setErrorHandler((err, req, reply) => {
    const { status, body, internal } = toErrorResponse(err);
    if (internal) req.log.error({ err }, 'request failed');
    else if (status >= 500) req.log.warn({ code: body.error.code }, body.error.message);
    // An answer before the whole body was read (a refused or cut-off upload): the rest of the body is
    // not read, so the connection closes behind the answer. A client that was cut off for stalling
    // may never read it: its socket is destroyed once the answer is handed over.
    if (status === 413 || !req.raw.complete) void reply.header('connection', 'close');
    if (status === 408 || body.error.code === 'UPLOAD_ABORTED') reply.raw.once('finish', () => req.raw.socket?.destroy());
    void reply.code(status).type('application/json').send(body);
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No route ${req.method} ${req.url.split('?')[0] ?? ''}.` } });
  });

  await app.register(swagger, {
    openapi: {
      info: { title: 'list-hygiene API', version: '1', description: 'Upload contact CSVs, verify addresses by SMTP, download cleaned and rejected rows.' },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'x-api-key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    hideUntagged: true,
  });
  await app.register(rateLimit, {
    global: true,
    max: config.api.rateLimitPerMinute,
    timeWindow: 60_000,
    // Shared through Redis so a fleet of API nodes enforces one limit per key.
    redis: runtime.redis,
    nameSpace: `${config.keyPrefix}:ratelimit:`,
    skipOnError: true,
    keyGenerator: (req) => {
      const key = presentedKey(req.headers);
      return key ? `key:${keyLabel(key)}` : `ip:${req.ip}`;
    },
    errorResponseBuilder: (_req, context) =>
      new ApiError(429, 'RATE_LIMITED', `Rate limit of ${context.max} requests per minute exceeded; retry in ${Math.ceil(context.ttl / 1000)} s.`),
  });
  await app.register(multipart, { limits: { fileSize: config.api.uploadMaxBytes, files: 1 } });

  app.get(
    '/healthz',
    { config: { public: true, rateLimit: false }, schema: { tags: ['operations'], summary: 'Redis reachable → 200, else 503.', security: [] } },
    async (_req, reply) => {
      const up = await Promise.race([
        runtime.redis.ping().then((r) => r === 'PONG', () => false),
        new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 1_000).unref()),
      ]);
      if (!up) return reply.code(503).send({ error: { code: 'REDIS_UNAVAILABLE', message: 'Redis does not answer.' } });
      return { status: 'ok', redis: 'up' };
    },
  );
  app.get('/metrics', { config: { rateLimit: false }, schema: { tags: ['operations'], summary: 'Prometheus metrics.' } }, async (_req, reply) => {
    return reply.type(metrics.contentType).send(await metrics.render());
  });
  app.get('/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  await registerListRoutes(app, deps);
  registerVerifyRoute(app, runtime, { timeoutMs: config.api.verifyTimeoutMs, refusePrivateMx: !config.api.allowPrivateMx });

  const board = new FastifyAdapter();
  createBullBoard({
    queues: [new BullMQAdapter(runtime.verifyQueue), new BullMQAdapter(runtime.finalizeQueue), new BullMQAdapter(deps.webhooks.queue)],
    // @bull-board/fastify 9.10.1 pins its own @bull-board/api 9.10.1 (we have 9.10.2): same shape,
    // separately declared private fields, so TypeScript sees two types.
    serverAdapter: board as unknown as Parameters<typeof createBullBoard>[0]['serverAdapter'],
  });
  board.setBasePath('/admin/queues');
  await app.register(board.registerPlugin(), { prefix: '/admin/queues' });

  return app;
}
